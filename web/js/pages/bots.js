// Bots: list with live channel status, create/edit with primary and fallback channels,
// and the QR pairing screen that refreshes until the phone is linked.
import { html, useState, useEffect } from '../lib.js';
import { t, date } from '../i18n.js';
import { get, post, put, del, ApiError } from '../api.js';
import { useLoad, Loaded, Empty, Pill, Link, navigate, useAction, toast, fail, Modal, Field, useInterval } from '../ui.js';
import { HoursEditor } from '../hours.js';

const KINDS = {
  cloud: { label: 'WhatsApp Cloud API (Meta)', fields: ['phone_number_id', '*access_token', '*app_secret', '*verify_token', '?api_base', '?api_version'] },
  twilio: { label: 'Twilio', fields: ['account_sid', '*auth_token', 'from', '?api_base'] },
  evolution: { label: 'Evolution API', fields: ['api_base', 'instance', '*api_key', '*webhook_token'] },
  wwebjs: { label: 'whatsapp-web.js (QR)', fields: ['bridge_url', '*bridge_token', 'session', '*webhook_secret'] },
  baileys: { label: 'Baileys (QR)', fields: ['bridge_url', '*bridge_token', 'session', '*webhook_secret'] },
  venom: { label: 'venom-bot (QR)', fields: ['bridge_url', '*bridge_token', 'session', '*webhook_secret'] },
  sandbox: { label: 'Sandbox (test)', fields: [] },
};
const isQr = k => ['wwebjs', 'baileys', 'venom'].includes(k);
const spec = f => ({ name: f.replace(/^[*?]/, ''), secret: f.startsWith('*'), optional: f.startsWith('?') });

function ChannelStatus({ ch }) {
  return html`<span class="row">
    <${Pill} kind=${ch.state}>${ch.kind} · ${t('state_' + ch.state)}<//>
    ${ch.circuit && ch.circuit !== 'closed' && html`<${Pill} kind=${ch.circuit}>${t('circuit', { s: ch.circuit })}<//>`}
    ${ch.reason && html`<span class="muted small-text">${ch.reason}</span>`}
  </span>`;
}

function BotRow({ bot, onEdit, onDelete }) {
  const st = useLoad(() => get(`/api/bots/${bot.id}/status`), [bot.id]);
  useInterval(() => st.reload(true), 5000);
  const chans = st.data?.channels || [];
  const qr = [bot.primary, ...bot.fallbacks].some(c => c && isQr(c.kind));
  return html`<tr data-bot=${bot.id}>
    <td><strong>${bot.name}</strong><div class="muted small-text">${bot.phone}</div>${!bot.active && html`<${Pill} kind="bad">${t('inactive')}<//>`}</td>
    <td>${chans.length ? chans.map(ch => html`<div><span class="muted small-text">${t('role_' + ch.role)}:</span> <${ChannelStatus} ch=${ch} /></div>`)
      : [bot.primary, ...bot.fallbacks].filter(Boolean).map(c => html`<div><${Pill}>${c.kind}<//></div>`)}</td>
    <td class="right nowrap">
      ${qr && html`<${Link} class="btn small" href=${`/bots/${bot.id}/pair`}>${t('pair')}<//> `}
      <button class="small" onClick=${onEdit}>${t('edit')}</button>
      <button class="small danger" aria-label=${`${t('delete')} ${bot.name}`} onClick=${onDelete}>✕</button></td>
  </tr>`;
}

/** A channel from the API (redacted) as form values. */
const toForm = c => ({ ...(c || { kind: 'sandbox' }) });
/** Form values to the API body: known fields only; empty secrets as null (keep stored). */
function toBody(c) {
  const out = { kind: c.kind };
  for (const f of KINDS[c.kind].fields.map(spec)) {
    const v = (c[f.name] ?? '').toString().trim();
    if (f.secret) out[f.name] = v || null;
    else if (v || !f.optional) out[f.name] = v;
  }
  return out;
}

function ChannelFields({ c, onChange, title, errs, prefix, onRemove }) {
  const set = (k, v) => onChange({ ...c, [k]: v });
  return html`<fieldset class="panel"><legend><strong>${title}</strong></legend>
    <div class="spread"><${Field} label=${t('kind')} error=${errs[`${prefix}.kind`]}>
      <select name=${`${prefix}.kind`} value=${c.kind} onChange=${e => onChange({ kind: e.target.value })}>${Object.entries(KINDS).map(([k, v]) => html`<option value=${k}>${v.label}</option>`)}</select><//>
      ${onRemove && html`<button type="button" class="small danger" onClick=${onRemove}>${t('remove')}</button>`}</div>
    <div class="grid2">${KINDS[c.kind].fields.map(spec).map(f => html`
      <${Field} label=${f.name + (f.optional ? ` (${t('optional')})` : '')} error=${errs[`${prefix}.${f.name}`]}>
        <input name=${`${prefix}.${f.name}`} type=${f.secret ? 'password' : 'text'} autocomplete="off" value=${c[f.name] || ''} onInput=${e => set(f.name, e.target.value)}
          placeholder=${f.secret && c[`has_${f.name}`] ? t('secret_kept') : ''} /><//>`)}</div>
    ${c.webhook_url && html`<div class="field"><label>${t('webhook_url')}</label><input readonly value=${c.webhook_url} onFocus=${e => e.target.select()} /></div>`}
  </fieldset>`;
}

function BotForm({ bot, onClose, onDone }) {
  const [v, setV] = useState({ name: bot?.name || '', phone: bot?.phone || '', active: bot ? bot.active : true });
  const [primary, setPrimary] = useState(toForm(bot?.primary));
  const [fallbacks, setFallbacks] = useState((bot?.fallbacks || []).map(toForm));
  const { hours, ...rest } = bot?.settings || {};
  const [hoursV, setHours] = useState(hours || null);
  const [settings, setSettings] = useState(JSON.stringify(rest, null, 2));
  const [errs, setErrs] = useState({});
  const [busy, setBusy] = useState(false);
  const submit = async e => {
    e.preventDefault();
    let s;
    try { s = JSON.parse(settings || '{}'); } catch (x) { setErrs({ settings: t('invalid_json', { e: x.message }) }); return; }
    if (hoursV) s.hours = hoursV;
    const body = { ...v, settings: s, primary: toBody(primary), fallbacks: fallbacks.map(toBody) };
    setBusy(true);
    try {
      const r = bot ? await put(`/api/bots/${bot.id}`, body) : await post('/api/bots', body);
      toast(t('saved'));
      onDone(r);
    } catch (x) {
      if (x instanceof ApiError && x.errors.length) setErrs(x.fields()); else fail(x);
    } finally { setBusy(false); }
  };
  return html`<${Modal} title=${bot ? t('edit_bot') : t('new_bot')} onClose=${onClose} wide>
    <form onSubmit=${submit} id="bot-form">
      <div class="grid2">
        <${Field} label=${t('name')} error=${errs.name}><input name="name" required value=${v.name} onInput=${e => setV({ ...v, name: e.target.value })} /><//>
        <${Field} label=${t('phone')} error=${errs.phone}><input name="phone" type="tel" placeholder="+51987654321" value=${v.phone} onInput=${e => setV({ ...v, phone: e.target.value })} /><//>
      </div>
      <label class="check"><input type="checkbox" checked=${v.active} onChange=${e => setV({ ...v, active: e.target.checked })} /> ${t('active')}</label>
      <h3>${t('channels')}</h3>
      <${ChannelFields} c=${primary} onChange=${setPrimary} title=${t('primary_channel')} errs=${errs} prefix="primary" />
      ${fallbacks.map((c, i) => html`<${ChannelFields} c=${c} title=${t('fallback_channel', { n: i + 1 })} errs=${errs} prefix=${`fallbacks[${i}]`}
          onChange=${n => setFallbacks(fallbacks.map((x, j) => (j === i ? n : x)))} onRemove=${() => setFallbacks(fallbacks.filter((_, j) => j !== i))} />`)}
      ${fallbacks.length < 5 && html`<p><button type="button" onClick=${() => setFallbacks([...fallbacks, { kind: 'cloud' }])}>+ ${t('add_fallback')}</button></p>`}
      ${errs.fallbacks && html`<div class="err">${errs.fallbacks}</div>`}
      <${HoursEditor} value=${hoursV} onChange=${setHours} idp="bot-hours" />
      <${Field} label=${t('bot_settings')} error=${errs.settings}><textarea class="mono" rows="4" value=${settings} onInput=${e => setSettings(e.target.value)}></textarea><//>
      <div class="row end"><button type="button" onClick=${onClose}>${t('cancel')}</button>
        <button class="primary" type="submit" disabled=${busy}>${busy ? t('saving') : t('save')}</button></div>
    </form>
  <//>`;
}

export function Bots() {
  const bots = useLoad(() => get('/api/bots'), []);
  const [editing, setEditing] = useState(null);
  const [, run] = useAction();
  const remove = b => confirm(t('confirm_delete', { name: b.name })) && run(async () => { await del(`/api/bots/${b.id}`); bots.reload(true); });
  const done = b => {
    setEditing(null);
    bots.reload(true);
    if ([b.primary, ...b.fallbacks].some(c => c && isQr(c.kind))) navigate(`/bots/${b.id}/pair`);
  };
  return html`<div>
    <div class="spread"><h1>${t('nav_bots')}</h1><button class="primary" id="new-bot" onClick=${() => setEditing({})}>+ ${t('new_bot')}</button></div>
    <${Loaded} st=${bots} what="/api/bots">${() => !bots.data.length
      ? html`<div class="panel"><${Empty} title=${t('bots_empty')}><button class="primary" onClick=${() => setEditing({})}>+ ${t('new_bot')}</button><//></div>`
      : html`<div class="table-wrap"><table><thead><tr><th>${t('name')}</th><th>${t('channels')}</th><th><span class="sr-only">${t('actions')}</span></th></tr></thead>
        <tbody>${bots.data.map(b => html`<${BotRow} key=${b.id} bot=${b} onEdit=${() => setEditing(b)} onDelete=${() => remove(b)} />`)}</tbody></table></div>`}<//>
    ${editing && html`<${BotForm} bot=${editing.id ? editing : null} onClose=${() => setEditing(null)} onDone=${done} />`}
  </div>`;
}

const svgSrc = svg => `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;

export function Pair({ args: [id] }) {
  const bot = useLoad(() => get(`/api/bots/${id}`), [id]);
  const st = useLoad(() => get(`/api/bots/${id}/status`), [id]);
  const chans = st.data?.channels || [];
  const qrCh = chans.find(c => c.state === 'qr_pending');
  const done = chans.length > 0 && chans.filter(c => isQr(c.kind)).every(c => c.state === 'connected');
  useInterval(() => { if (!done) st.reload(true); }, 2000);
  useEffect(() => { if (done) toast(t('paired')); }, [done]);
  return html`<div>
    <p><${Link} href="/bots">← ${t('nav_bots')}<//></p>
    <h1>${t('pairing_title', { name: bot.data?.name || '' })}</h1>
    <${Loaded} st=${st} what="/api/bots/{id}/status">${() => html`
      <div class="panel" aria-live="polite">
        ${done ? html`<div class="notice" role="status">✅ ${t('paired')}</div>`
          : qrCh ? html`<p>${t('pairing_help')}</p><div class="qr"><img alt=${qrCh.qr_text ? 'QR' : ''} src=${svgSrc(qrCh.qr_svg)} /></div>`
          : html`<p role="status">${t('pairing_wait')}</p><progress></progress>`}
        <h3>${t('channels')}</h3>
        ${chans.map(ch => html`<div><span class="muted small-text">${t('role_' + ch.role)}:</span> <${ChannelStatus} ch=${ch} /></div>`)}
        <p class="muted small-text">${date(new Date().toISOString(), { timeStyle: 'medium' })}</p>
      </div>`}<//>
  </div>`;
}

export const pages = { bots: Bots, pair: Pair };
