// Failed messages (outbox dead letters): retry or discard.
import { html, useState } from '../lib.js';
import { t, date } from '../i18n.js';
import { get, post, qs } from '../api.js';
import { useLoad, Loaded, Empty, useAction, toast } from '../ui.js';
import { textOf } from '../content.js';

export function Outbox() {
  const [status, setStatus] = useState('problems');
  const list = useLoad(async () => {
    if (status !== 'problems') return get('/api/outbox' + qs({ status, limit: 100 }));
    // Dead letters (retries exhausted) and failures the provider called final, newest first.
    const [dead, failed] = await Promise.all(['dead', 'failed'].map(s => get('/api/outbox' + qs({ status: s, limit: 100 }))));
    return { items: [...dead.items, ...failed.items].sort((a, b) => b.id - a.id) };
  }, [status]);
  const [busy, run] = useAction();
  const act = (m, action) => run(async () => {
    await post(`/api/outbox/${m.id}/${action}`);
    toast(action === 'retry' ? t('queued_again') : t('discarded'));
    list.set(d => ({ ...d, items: d.items.filter(x => x.id !== m.id) }));
  });
  const items = list.data?.items || [];
  return html`<div>
    <h1>${t('nav_outbox')}</h1>
    <p class="muted">${t('outbox_help')}</p>
    <div class="toolbar"><div class="field"><label for="ob-status">${t('status')}</label>
      <select id="ob-status" value=${status} onChange=${e => setStatus(e.target.value)}>
        <option value="problems">${t('ob_problems')}</option>
        ${['dead', 'failed', 'queued', 'sending', 'sent', 'discarded'].map(s => html`<option value=${s}>${t('ob_' + s)}</option>`)}</select></div></div>
    <${Loaded} st=${list} what="/api/outbox">${() => !items.length ? html`<div class="panel"><${Empty}>${t('outbox_empty')}<//></div>` : html`
      <div class="table-wrap"><table><thead><tr><th>${t('to')}</th><th>${t('message')}</th><th class="right">${t('attempts')}</th><th>${t('last_error')}</th><th class="hide-sm">${t('created')}</th><th></th></tr></thead>
      <tbody>${items.map(m => html`<tr data-outbox=${m.id}><td class="nowrap">${m.to}</td><td>${textOf(m.content)}</td><td class="right">${m.attempts}</td>
        <td>${m.last_error_code && html`<span class="mono">[${m.last_error_code}]</span> `}${m.last_error || ''}<div class="muted small-text">${m.channel || ''}</div></td>
        <td class="hide-sm nowrap">${date(m.created_at)}</td>
        <td class="right nowrap">${['dead', 'failed'].includes(m.status) && html`<button class="small primary" disabled=${busy} onClick=${() => act(m, 'retry')}>${t('retry')}</button>
          <button class="small" disabled=${busy} onClick=${() => act(m, 'discard')}>${t('discard')}</button>`}</td></tr>`)}</tbody></table></div>`}<//>
  </div>`;
}

export const pages = { outbox: Outbox };
