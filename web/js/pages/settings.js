// Shop settings: name, time zone, currency, country, locale and default business hours.
import { html, useState } from '../lib.js';
import { t } from '../i18n.js';
import { get, put, getSession, setSession, ApiError } from '../api.js';
import { useLoad, Loaded, Field, toast, fail } from '../ui.js';
import { HoursEditor } from '../hours.js';

const zones = (() => { try { return Intl.supportedValuesOf('timeZone'); } catch { return []; } })();
const CURRENCIES = ['PEN', 'USD', 'EUR', 'MXN', 'COP', 'CLP', 'ARS', 'BOB', 'BRL', 'UYU', 'PYG', 'GTQ', 'CRC', 'DOP'];

function Form({ tenant, onSaved }) {
  const [v, setV] = useState({ name: tenant.name, timezone: tenant.timezone, currency: tenant.currency, country: tenant.country, locale: tenant.locale });
  const [hours, setHours] = useState(tenant.settings?.hours || null);
  const [applyBots, setApplyBots] = useState(false);
  const [errs, setErrs] = useState({});
  const [busy, setBusy] = useState(false);
  const set = k => e => setV({ ...v, [k]: e.target.value });
  const submit = async e => {
    e.preventDefault();
    setBusy(true);
    try {
      const r = await put('/api/tenant', { ...v, country: v.country.toUpperCase(), currency: v.currency.toUpperCase(), settings: { ...(tenant.settings || {}), hours } });
      if (applyBots && hours) {
        // The engine reads hours from each bot's settings; copy them there too.
        for (const b of await get('/api/bots')) {
          const strip = c => Object.fromEntries(Object.entries(c).filter(([k]) => !['webhook_url', 'session'].includes(k) && !k.startsWith('has_')));
          await put(`/api/bots/${b.id}`, { name: b.name, phone: b.phone, active: b.active, settings: { ...b.settings, hours }, primary: strip(b.primary), fallbacks: b.fallbacks.map(strip) });
        }
      }
      setSession({ ...getSession(), tenant: r });
      setErrs({});
      toast(t('saved'));
      onSaved(r);
    } catch (x) { if (x instanceof ApiError && x.errors.length) setErrs(x.fields()); else fail(x); } finally { setBusy(false); }
  };
  return html`<form onSubmit=${submit} id="settings-form">
    <div class="panel grid2">
      <${Field} label=${t('shop_name')} error=${errs.name}><input value=${v.name} onInput=${set('name')} /><//>
      <${Field} label=${t('timezone')} error=${errs.timezone}><input list="tz-list" value=${v.timezone} onInput=${set('timezone')} /><//>
      <datalist id="tz-list">${zones.map(z => html`<option value=${z} />`)}</datalist>
      <${Field} label=${t('currency')} error=${errs.currency}><input list="cur-list" maxlength="3" value=${v.currency} onInput=${set('currency')} /><//>
      <datalist id="cur-list">${CURRENCIES.map(z => html`<option value=${z} />`)}</datalist>
      <${Field} label=${t('country')} error=${errs.country}><input maxlength="2" value=${v.country} onInput=${set('country')} /><//>
      <${Field} label=${t('locale')} error=${errs.locale}><input value=${v.locale} onInput=${set('locale')} placeholder="es-PE" /><//>
    </div>
    <p class="muted">${t('hours_note')}</p>
    <${HoursEditor} value=${hours} onChange=${setHours} idp="shop-hours" />
    <label class="check"><input type="checkbox" id="apply-hours" checked=${applyBots} onChange=${e => setApplyBots(e.target.checked)} /> ${t('apply_hours_bots')}</label>
    <div class="row end"><button class="primary" type="submit" disabled=${busy}>${busy ? t('saving') : t('save')}</button></div>
  </form>`;
}

export function Settings() {
  const tenant = useLoad(() => get('/api/tenant'), []);
  return html`<div><h1>${t('nav_settings')}</h1>
    <${Loaded} st=${tenant} what="/api/tenant">${() => html`<${Form} tenant=${tenant.data} onSaved=${r => tenant.set(r)} />`}<//></div>`;
}

export const pages = { settings: Settings };
