// Errors and incidents recorded by the appliance, for owners and admins.
import { html } from '../lib.js';
import { t, date, num } from '../i18n.js';
import { get, post } from '../api.js';
import { useLoad, Loaded, Empty, Pill, useAction } from '../ui.js';

export function Errors() {
  const errors = useLoad(() => get('/api/admin/errors?limit=100'), []);
  const incidents = useLoad(() => get('/api/admin/incidents'), []);
  const [busy, run] = useAction();
  const items = errors.data?.items || [];
  const seen = () => run(async () => { await post('/api/admin/errors/seen', { up_to: items[0]?.id }); errors.reload(true); });
  const resolve = id => run(async () => { await post(`/api/admin/incidents/${id}/resolve`); incidents.reload(true); });
  return html`<div>
    <h1>${t('nav_errors')}</h1>
    <h2>${t('incidents')}</h2>
    <${Loaded} st=${incidents} what="/api/admin/incidents">${() => !incidents.data.items.length ? html`<div class="panel"><${Empty}>${t('incidents_empty')}<//></div>` : html`
      <div class="table-wrap"><table><thead><tr><th>${t('message')}</th><th class="right">${t('occurrences')}</th><th>${t('when')}</th><th></th></tr></thead>
      <tbody>${incidents.data.items.map(i => html`<tr><td><${Pill} kind="bad">${i.kind}<//> ${i.message}</td><td class="right">${num(i.occurrences)}</td>
        <td class="nowrap">${date(i.last_seen_at)}</td><td class="right"><button class="small" disabled=${busy} onClick=${() => resolve(i.id)}>${t('resolve')}</button></td></tr>`)}</tbody></table></div>`}<//>
    <div class="spread"><h2>${t('nav_errors')} ${errors.data?.unseen_count > 0 && html`<${Pill} kind="bad">${t('unseen', { n: errors.data.unseen_count })}<//>`}</h2>
      ${items.length > 0 && html`<button disabled=${busy} onClick=${seen}>${t('mark_seen')}</button>`}</div>
    <${Loaded} st=${errors} what="/api/admin/errors">${() => !items.length ? html`<div class="panel"><${Empty}>${t('errors_empty')}<//></div>` : html`
      <div class="table-wrap"><table><thead><tr><th>${t('when')}</th><th>${t('severity')}</th><th>${t('module')}</th><th>${t('message')}</th></tr></thead>
      <tbody>${items.map(e => html`<tr class=${e.seen_at ? '' : 'sel'}><td class="nowrap">${date(e.created_at)}</td><td><${Pill} kind=${e.severity === 'error' || e.severity === 'critical' ? 'bad' : 'warn'}>${e.severity}<//></td>
        <td class="mono">${e.service}/${e.module}</td><td>${e.message}${e.request_id && html`<div class="muted small-text mono">${e.request_id}</div>`}</td></tr>`)}</tbody></table></div>`}<//>
  </div>`;
}

export const pages = { errors: Errors };
