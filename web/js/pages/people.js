// Customers and sellers: searchable lists with create/edit; sellers with their sales.
import { html, useState } from '../lib.js';
import { t, date, money, num } from '../i18n.js';
import { get, post, put, del, qs, download, upload, ApiError } from '../api.js';
import { useLoad, Loaded, Empty, Pill, Field, Modal, useAction, toast, fail, Link } from '../ui.js';

/** A generic create/edit dialog over `fields`: [name, label, type]. */
function EditDialog({ title, path, item, fields, toBody, onClose, onDone }) {
  const [v, setV] = useState(() => Object.fromEntries(fields.map(([n, , type, from]) => [n, from ? from(item) : type === 'checkbox' ? !!item?.[n] : item?.[n] ?? ''])));
  const [errs, setErrs] = useState({});
  const [busy, setBusy] = useState(false);
  const submit = async e => {
    e.preventDefault();
    setBusy(true);
    try {
      const body = toBody(v);
      const r = item?.id ? await put(`${path}/${item.id}`, body) : await post(path, body);
      toast(t('saved'));
      onDone(r);
    } catch (x) {
      if (x instanceof ApiError && x.errors.length) setErrs(x.fields()); else fail(x);
    } finally { setBusy(false); }
  };
  return html`<${Modal} title=${title} onClose=${onClose}>
    <form onSubmit=${submit}>
      ${fields.map(([n, label, type]) => type === 'checkbox'
        ? html`<label class="check"><input type="checkbox" name=${n} checked=${v[n]} onChange=${e => setV({ ...v, [n]: e.target.checked })} /> ${label}</label>`
        : html`<${Field} label=${label} error=${errs[n]}>${type === 'textarea'
          ? html`<textarea name=${n} rows="3" value=${v[n]} onInput=${e => setV({ ...v, [n]: e.target.value })}></textarea>`
          : html`<input name=${n} type=${type || 'text'} value=${v[n]} onInput=${e => setV({ ...v, [n]: e.target.value })} />`}<//>`)}
      <div class="row end"><button type="button" onClick=${onClose}>${t('cancel')}</button>
        <button class="primary" type="submit" disabled=${busy}>${busy ? t('saving') : t('save')}</button></div>
    </form>
  <//>`;
}

export function Customers() {
  const [q, setQ] = useState('');
  const list = useLoad(() => get('/api/customers' + qs({ q, limit: 100 })), [q]);
  const [editing, setEditing] = useState(null);
  const [, run] = useAction();
  const items = list.data?.items || [];
  const importCsv = async e => {
    const file = e.target.files[0];
    e.target.value = '';
    if (!file) return;
    toast(t('importing', { name: file.name }));
    try { const r = await upload('/api/customers/import', file, 'text/csv'); toast(t('imported', { s: JSON.stringify(r) })); list.reload(true); } catch (x) { fail(x); }
  };
  return html`<div>
    <div class="spread"><h1>${t('nav_customers')}</h1>
      <div class="row"><button class="primary" onClick=${() => setEditing({})}>+ ${t('new_customer')}</button>
        <button onClick=${() => download('/api/customers/export', 'customers.csv').catch(fail)}>⬇ ${t('export_csv')}</button>
        <label class="btn" for="cust-import">⬆ ${t('import_csv')}</label><input id="cust-import" class="sr-only" type="file" accept=".csv,text/csv" onChange=${importCsv} /></div></div>
    <form class="toolbar" role="search" onSubmit=${e => e.preventDefault()}>
      <div class="field"><label for="c-q">${t('search')}</label><input id="c-q" type="search" value=${q} onChange=${e => setQ(e.target.value)} /></div></form>
    <${Loaded} st=${list} what="/api/customers">${() => !items.length ? html`<div class="panel"><${Empty}>${t('customers_empty')}<//></div>` : html`
      <div class="table-wrap"><table><thead><tr><th>${t('name')}</th><th>${t('phone')}</th><th class="hide-sm">${t('email')}</th><th class="hide-sm">${t('created')}</th><th></th></tr></thead>
      <tbody>${items.map(c => html`<tr><td>${c.name || '—'} ${c.opted_out && html`<${Pill} kind="bad">${t('opted_out')}<//>`}
          ${(c.tags || []).map(tag => html` <${Pill}>${tag}<//>`)}</td><td class="nowrap">${c.phone}</td><td class="hide-sm">${c.email || ''}</td><td class="hide-sm">${date(c.created_at, { dateStyle: 'medium' })}</td>
        <td class="right nowrap"><${Link} class="btn small" href=${`/orders?customer=${c.id}`}>${t('nav_orders')}<//> <button class="small" onClick=${() => setEditing(c)}>${t('edit')}</button>
          <button class="small danger" aria-label=${`${t('delete')} ${c.name}`} onClick=${() => confirm(t('confirm_delete', { name: c.name || c.phone })) && run(async () => { await del(`/api/customers/${c.id}`); list.reload(true); })}>✕</button></td></tr>`)}</tbody></table></div>`}<//>
    ${editing && html`<${EditDialog} title=${editing.id ? t('edit') : t('new_customer')} path="/api/customers" item=${editing}
      fields=${[['name', t('name')], ['phone', t('phone'), 'tel'], ['email', t('email'), 'email'], ['tags', t('tags'), 'text', c => (c?.tags || []).join(', ')], ['notes', t('notes'), 'textarea'], ['opted_out', t('opted_out'), 'checkbox']]}
      toBody=${v => ({ ...v, email: v.email || null, tags: v.tags.split(',').map(s => s.trim()).filter(Boolean) })}
      onClose=${() => setEditing(null)} onDone=${() => { setEditing(null); list.reload(true); }} />`}
  </div>`;
}

export function Sellers() {
  const list = useLoad(() => get('/api/sellers' + qs({ limit: 100 })), []);
  const since = new Date(Date.now() - 30 * 86400e3).toISOString().slice(0, 10);
  const stats = useLoad(() => get('/api/sellers/stats' + qs({ from: since })).catch(() => []), []);
  const [editing, setEditing] = useState(null);
  const [, run] = useAction();
  const items = list.data?.items || [];
  const statsOf = id => (Array.isArray(stats.data) ? stats.data : stats.data?.items || []).filter(s => s.seller_id === id);
  return html`<div>
    <div class="spread"><h1>${t('nav_sellers')}</h1><button class="primary" onClick=${() => setEditing({ active: true, commission_bps: 0 })}>+ ${t('new_seller')}</button></div>
    <${Loaded} st=${list} what="/api/sellers">${() => !items.length ? html`<div class="panel"><${Empty}>${t('sellers_empty')}<//></div>` : html`
      <div class="table-wrap"><table><thead><tr><th>${t('name')}</th><th class="hide-sm">${t('phone')}</th><th class="right">${t('commission')}</th><th class="right">${t('sales')}</th><th></th></tr></thead>
      <tbody>${items.map(s => html`<tr><td>${s.name} ${!s.active && html`<${Pill} kind="bad">${t('inactive')}<//>`}</td><td class="hide-sm">${s.phone || ''}</td>
        <td class="right">${num(s.commission_bps / 100, { maximumFractionDigits: 2 })} %</td>
        <td class="right nowrap">${statsOf(s.id).map(x => html`<div>${money(x.revenue_minor, x.currency)} <span class="muted small-text">(${num(x.orders)} ${t('orders_count').toLowerCase()})</span></div>`)}</td>
        <td class="right nowrap"><button class="small" onClick=${() => setEditing(s)}>${t('edit')}</button>
          <button class="small danger" aria-label=${`${t('delete')} ${s.name}`} onClick=${() => confirm(t('confirm_delete', { name: s.name })) && run(async () => { await del(`/api/sellers/${s.id}`); list.reload(true); })}>✕</button></td></tr>`)}</tbody></table></div>`}<//>
    ${editing && html`<${EditDialog} title=${editing.id ? t('edit') : t('new_seller')} path="/api/sellers" item=${editing}
      fields=${[['name', t('name')], ['phone', t('phone'), 'tel'], ['email', t('email'), 'email'], ['commission', t('commission'), 'number', s => (s?.commission_bps ?? 0) / 100], ['active', t('active'), 'checkbox']]}
      toBody=${v => ({ name: v.name, phone: v.phone || null, email: v.email || null, commission_bps: Math.round(Number(v.commission || 0) * 100), active: v.active })}
      onClose=${() => setEditing(null)} onDone=${() => { setEditing(null); list.reload(true); stats.reload(true); }} />`}
  </div>`;
}

export const pages = { customers: Customers, sellers: Sellers };
