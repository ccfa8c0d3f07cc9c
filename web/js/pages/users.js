// Users of the shop and API keys (the secret is shown once).
import { html, useState } from '../lib.js';
import { t, date, roleName } from '../i18n.js';
import { get, post, put, del, ApiError } from '../api.js';
import { useLoad, Loaded, Empty, Pill, Field, Modal, useAction, toast, fail } from '../ui.js';

const ROLES = ['owner', 'admin', 'agent', 'viewer'];

function UserForm({ user, onClose, onDone }) {
  const [v, setV] = useState({ email: user?.email || '', name: user?.name || '', role: user?.role || 'agent', password: '', active: user ? user.active : true });
  const [errs, setErrs] = useState({});
  const [busy, setBusy] = useState(false);
  const submit = async e => {
    e.preventDefault();
    setBusy(true);
    try {
      const r = user
        ? await put(`/api/users/${user.id}`, { name: v.name, role: v.role, active: v.active, ...(v.password ? { password: v.password } : {}) })
        : await post('/api/users', { email: v.email, name: v.name, role: v.role, password: v.password });
      toast(t('saved'));
      onDone(r);
    } catch (x) { if (x instanceof ApiError && x.errors.length) setErrs(x.fields()); else fail(x); } finally { setBusy(false); }
  };
  return html`<${Modal} title=${user ? t('edit') : t('new_user')} onClose=${onClose}>
    <form onSubmit=${submit}>
      <${Field} label=${t('email')} error=${errs.email}><input type="email" required disabled=${!!user} value=${v.email} onInput=${e => setV({ ...v, email: e.target.value })} /><//>
      <${Field} label=${t('name')} error=${errs.name}><input value=${v.name} onInput=${e => setV({ ...v, name: e.target.value })} /><//>
      <${Field} label=${t('role')} error=${errs.role}><select value=${v.role} onChange=${e => setV({ ...v, role: e.target.value })}>${ROLES.map(r => html`<option value=${r}>${roleName(r)}</option>`)}</select><//>
      <${Field} label=${t('password')} error=${errs.password}><input type="password" autocomplete="new-password" required=${!user} value=${v.password} onInput=${e => setV({ ...v, password: e.target.value })} /><//>
      ${user && html`<label class="check"><input type="checkbox" checked=${v.active} onChange=${e => setV({ ...v, active: e.target.checked })} /> ${t('active')}</label>`}
      <div class="row end"><button type="button" onClick=${onClose}>${t('cancel')}</button><button class="primary" disabled=${busy}>${t('save')}</button></div>
    </form><//>`;
}

function KeyForm({ onClose, onDone }) {
  const [v, setV] = useState({ name: '', role: 'agent' });
  const [secret, setSecret] = useState(null);
  const [busy, run] = useAction();
  const submit = e => { e.preventDefault(); run(async () => { const r = await post('/api/api-keys', v); setSecret(r.secret); onDone(); }); };
  return html`<${Modal} title=${t('new_key')} onClose=${onClose}>
    ${secret ? html`<p>${t('key_secret_once')}</p><input class="mono" readonly value=${secret} onFocus=${e => e.target.select()} aria-label="secret" />
        <div class="row end"><button class="primary" onClick=${onClose}>${t('close')}</button></div>`
      : html`<form onSubmit=${submit}>
        <${Field} label=${t('name')}><input required value=${v.name} onInput=${e => setV({ ...v, name: e.target.value })} /><//>
        <${Field} label=${t('role')}><select value=${v.role} onChange=${e => setV({ ...v, role: e.target.value })}>${ROLES.filter(r => r !== 'owner').map(r => html`<option value=${r}>${roleName(r)}</option>`)}</select><//>
        <div class="row end"><button type="button" onClick=${onClose}>${t('cancel')}</button><button class="primary" disabled=${busy}>${t('create')}</button></div></form>`}
  <//>`;
}

export function Users() {
  const users = useLoad(() => get('/api/users'), []);
  const keys = useLoad(() => get('/api/api-keys'), []);
  const [editing, setEditing] = useState(null);
  const [newKey, setNewKey] = useState(false);
  const [, run] = useAction();
  return html`<div>
    <div class="spread"><h1>${t('users')}</h1><button class="primary" onClick=${() => setEditing({})}>+ ${t('new_user')}</button></div>
    <${Loaded} st=${users} what="/api/users">${() => html`<div class="table-wrap"><table>
      <thead><tr><th>${t('name')}</th><th>${t('email')}</th><th>${t('role')}</th><th></th></tr></thead>
      <tbody>${users.data.map(u => html`<tr><td>${u.name} ${!u.active && html`<${Pill} kind="bad">${t('inactive')}<//>`}</td><td>${u.email}</td><td>${roleName(u.role)}</td>
        <td class="right nowrap"><button class="small" onClick=${() => setEditing(u)}>${t('edit')}</button>
          <button class="small danger" aria-label=${`${t('delete')} ${u.email}`} onClick=${() => confirm(t('confirm_delete', { name: u.email })) && run(async () => { await del(`/api/users/${u.id}`); users.reload(true); })}>✕</button></td></tr>`)}</tbody></table></div>`}<//>
    <div class="spread"><h2>${t('api_keys')}</h2><button onClick=${() => setNewKey(true)}>+ ${t('new_key')}</button></div>
    <${Loaded} st=${keys} what="/api/api-keys">${() => !keys.data.length ? html`<div class="panel"><${Empty}>${t('keys_empty')}<//></div>` : html`<div class="table-wrap"><table>
      <thead><tr><th>${t('name')}</th><th>${t('prefix')}</th><th>${t('role')}</th><th class="hide-sm">${t('last_used')}</th><th></th></tr></thead>
      <tbody>${keys.data.map(k => html`<tr><td>${k.name}</td><td class="mono">${k.prefix}…</td><td>${roleName(k.role)}</td><td class="hide-sm">${k.last_used_at ? date(k.last_used_at) : t('never')}</td>
        <td class="right"><button class="small danger" onClick=${() => confirm(t('confirm_delete', { name: k.name })) && run(async () => { await del(`/api/api-keys/${k.id}`); keys.reload(true); })}>${t('revoke')}</button></td></tr>`)}</tbody></table></div>`}<//>
    ${editing && html`<${UserForm} user=${editing.id ? editing : null} onClose=${() => setEditing(null)} onDone=${() => { setEditing(null); users.reload(true); }} />`}
    ${newKey && html`<${KeyForm} onClose=${() => setNewKey(false)} onDone=${() => keys.reload(true)} />`}
  </div>`;
}

export const pages = { users: Users };
