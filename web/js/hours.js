// Business hours editor for the engine's `hours` setting:
// {enabled, schedule: {monday: {start, end} | null, ...}, away_message, away_every_hours}.
import { html } from './lib.js';
import { t } from './i18n.js';

export const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
export const defaultHours = () => ({
  enabled: false,
  schedule: Object.fromEntries(DAYS.map(d => [d, d === 'sunday' ? null : { start: '09:00', end: d === 'saturday' ? '13:00' : '18:00' }])),
  away_message: 'Gracias por escribirnos. Ahora estamos fuera de horario; te responderemos pronto.',
  away_every_hours: 4,
});

/** `value` is the hours object (or null); `onChange` gets the new one. */
export function HoursEditor({ value, onChange, idp = 'h' }) {
  const h = value || defaultHours();
  const set = patch => onChange({ ...h, ...patch });
  const day = (d, v) => set({ schedule: { ...h.schedule, [d]: v } });
  const span = d => (Array.isArray(h.schedule[d]) ? h.schedule[d][0] : h.schedule[d]);
  return html`<fieldset class="panel"><legend><strong>${t('business_hours')}</strong></legend>
    <label class="check"><input type="checkbox" id=${`${idp}-enabled`} checked=${h.enabled} onChange=${e => set({ enabled: e.target.checked })} /> ${t('hours_enabled')}</label>
    <div class="table-wrap"><table class="hours">
      <thead><tr><th>${t('day')}</th><th>${t('closed_day')}</th><th>${t('opens')}</th><th>${t('closes')}</th></tr></thead>
      <tbody>${DAYS.map(d => {
        const s = span(d);
        return html`<tr><th scope="row">${t(d)}</th>
          <td><input type="checkbox" aria-label=${`${t(d)}: ${t('closed_day')}`} checked=${!s} onChange=${e => day(d, e.target.checked ? null : { start: '09:00', end: '18:00' })} /></td>
          <td><input type="time" id=${`${idp}-${d}-start`} aria-label=${`${t(d)}: ${t('opens')}`} disabled=${!s} value=${s?.start || ''} onChange=${e => day(d, { ...s, start: e.target.value })} /></td>
          <td><input type="time" aria-label=${`${t(d)}: ${t('closes')}`} disabled=${!s} value=${s?.end || ''} onChange=${e => day(d, { ...s, end: e.target.value })} /></td></tr>`;
      })}</tbody></table></div>
    <div class="field"><label for=${`${idp}-away`}>${t('away_message')}</label>
      <textarea id=${`${idp}-away`} rows="2" value=${h.away_message} onInput=${e => set({ away_message: e.target.value })}></textarea></div>
  </fieldset>`;
}
