// Orders: filters, list, details with items and history, status changes.
import { html, useState } from '../lib.js';
import { t, date, money, orderStatus, num } from '../i18n.js';
import { get, post, qs } from '../api.js';
import { useLoad, Loaded, Empty, Pill, navigate, useAction, toast, Link, params, useActor } from '../ui.js';

const STATUSES = ['pending', 'confirmed', 'paid', 'shipped', 'delivered', 'cancelled'];

function Detail({ id, onChanged }) {
  const o = useLoad(() => get(`/api/orders/${id}`), [id]);
  const [busy, run] = useAction();
  const actor = useActor();
  const change = status => run(async () => {
    const r = await post(`/api/orders/${id}/status`, { status });
    o.set(r);
    onChanged();
    toast(t('status_changed', { n: r.number, s: orderStatus(r.status) }));
  });
  return html`<section class="panel" aria-label=${o.data ? t('order_n', { n: o.data.number }) : ''} id="order-detail">
    <${Loaded} st=${o} what="/api/orders">${() => {
      const d = o.data;
      return html`
        <div class="spread"><h2>${t('order_n', { n: d.number })}</h2><${Pill} kind=${d.status}><span id="order-status">${orderStatus(d.status)}</span><//></div>
        <button class="small link only-sm" onClick=${() => navigate('/orders')}>← ${t('back')}</button>
        <dl class="kv">
          <dt>${t('customer')}</dt><dd>${d.customer_name} <span class="muted">${d.customer_phone}</span></dd>
          <dt>${t('seller')}</dt><dd>${d.seller_name || '—'}</dd>
          <dt>${t('created')}</dt><dd>${date(d.created_at)}</dd>
          <dt>${t('source')}</dt><dd>${d.source}</dd>
          ${d.notes && html`<dt>${t('notes')}</dt><dd>${d.notes}</dd>`}
        </dl>
        <h3>${t('items')}</h3>
        <div class="table-wrap"><table>
          <thead><tr><th>${t('name')}</th><th class="right">${t('qty')}</th><th class="right">${t('price')}</th><th class="right">${t('total')}</th></tr></thead>
          <tbody>${d.items.map(i => html`<tr><td>${i.name} <span class="muted mono">${i.sku}</span></td><td class="right">${num(i.quantity)}</td>
            <td class="right nowrap">${money(i.unit_price_minor, d.currency)}</td><td class="right nowrap">${money(i.line_total_minor, d.currency)}</td></tr>`)}
          </tbody></table></div>
        <dl class="kv totals">
          <dt>${t('subtotal')}</dt><dd>${money(d.subtotal_minor, d.currency)}</dd>
          ${d.discount_minor > 0 && html`<dt>${t('discount')}</dt><dd>−${money(d.discount_minor, d.currency)}</dd>`}
          ${d.shipping_minor > 0 && html`<dt>${t('shipping')}</dt><dd>${money(d.shipping_minor, d.currency)}</dd>`}
          <dt><strong>${t('total')}</strong></dt><dd><strong>${money(d.total_minor, d.currency)}</strong></dd>
        </dl>
        <h3>${t('status')}</h3>
        <div class="row" role="group" aria-label=${t('status')}>
          ${d.allowed_transitions.length ? d.allowed_transitions.map(s => html`<button class=${s === 'cancelled' ? 'danger' : 'primary'} disabled=${busy}
              data-status=${s} onClick=${() => change(s)}>${t('mark_as', { s: orderStatus(s) })}</button>`)
            : html`<span class="muted">${t('final_status')}</span>`}
        </div>
        <h3>${t('history')}</h3>
        <ol class="history">${d.history.map(h => html`<li>${date(h.at)} — ${h.from ? `${orderStatus(h.from)} → ` : ''}<strong>${orderStatus(h.to)}</strong> <span class="muted">${t('by', { who: actor(h.actor) })}</span>${h.note && html` · ${h.note}`}</li>`)}</ol>`;
    }}<//>
  </section>`;
}

export function Orders({ args }) {
  const selected = args[0];
  const [f, setF] = useState({ status: '', q: '', from: '', to: '', customer_id: params().get('customer') || '' });
  const [extra, setExtra] = useState([]);
  const [cursor, setCursor] = useState(null);
  const list = useLoad(async () => { setExtra([]); setCursor(null); return get('/api/orders' + qs({ ...f, limit: 50 })); }, [f.status, f.q, f.from, f.to, f.customer_id]);
  const more = async () => {
    const r = await get('/api/orders' + qs({ ...f, limit: 50, cursor: cursor || list.data.next_cursor }));
    setExtra(x => [...x, ...r.items]);
    setCursor(r.next_cursor || '');
  };
  const set = (k, v) => setF(x => ({ ...x, [k]: v }));
  const items = [...(list.data?.items || []), ...extra];
  const hasMore = cursor === null ? list.data?.next_cursor : cursor;
  return html`<div>
    <h1>${t('nav_orders')}</h1>
    <form class="toolbar" role="search" onSubmit=${e => e.preventDefault()}>
      <div class="field"><label for="o-q">${t('search')}</label>
        <input id="o-q" type="search" placeholder=${t('order_search')} value=${f.q} onChange=${e => set('q', e.target.value)} /></div>
      <div class="field"><label for="o-status">${t('status')}</label>
        <select id="o-status" value=${f.status} onChange=${e => set('status', e.target.value)}>
          <option value="">${t('all')}</option>${STATUSES.map(s => html`<option value=${s}>${orderStatus(s)}</option>`)}</select></div>
      <div class="field"><label for="o-from">${t('from_date')}</label><input id="o-from" type="date" value=${f.from} onChange=${e => set('from', e.target.value)} /></div>
      <div class="field"><label for="o-to">${t('to_date')}</label><input id="o-to" type="date" value=${f.to} onChange=${e => set('to', e.target.value)} /></div>
      ${f.customer_id && html`<button type="button" class="small" onClick=${() => { set('customer_id', ''); navigate('/orders', true); }}>✕ ${t('customer')}</button>`}
    </form>
    <div class="split ${selected ? 'detail-open' : ''} orders-split">
      <div>
        <${Loaded} st=${list} what="/api/orders">${() => !items.length
          ? html`<div class="panel"><${Empty}>${t('orders_empty')} <${Link} href="/simulator">${t('nav_simulator')}<//><//></div>`
          : html`<div class="table-wrap"><table id="orders-table">
            <thead><tr><th>#</th><th>${t('customer')}</th><th class="right">${t('total')}</th><th>${t('status')}</th></tr></thead>
            <tbody>${items.map(o => html`<tr class="clickable ${o.id === selected ? 'sel' : ''}" data-order=${o.number} tabindex="0"
                onClick=${() => navigate(`/orders/${o.id}${location.search}`)} onKeyDown=${e => e.key === 'Enter' && navigate(`/orders/${o.id}${location.search}`)}>
              <td><strong>${o.number}</strong><div class="muted small-text nowrap">${date(o.created_at, { dateStyle: 'short', timeStyle: 'short' })}</div></td>
              <td>${o.customer_name}<div class="muted small-text">${o.customer_phone}</div></td>
              <td class="right nowrap">${money(o.total_minor, o.currency)}</td>
              <td><${Pill} kind=${o.status}>${orderStatus(o.status)}<//></td></tr>`)}</tbody></table></div>
            ${hasMore && html`<p><button onClick=${more}>${t('more')}</button></p>`}`}<//>
      </div>
      <div>${selected ? html`<${Detail} id=${selected} key=${selected} onChanged=${() => list.reload(true)} />` : null}</div>
    </div>
  </div>`;
}

export const pages = { orders: Orders };
