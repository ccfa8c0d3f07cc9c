// Small shared pieces: navigation, data loading, empty states, fields, dialogs, toasts.
import { html, useState, useEffect, useRef, useCallback } from './lib.js';
import { t } from './i18n.js';
import { get } from './api.js';

// --- navigation (history API; the server answers index.html for these paths) ---
export function navigate(to, replace) {
  if (to === location.pathname + location.search) return;
  history[replace ? 'replaceState' : 'pushState'](null, '', to);
  dispatchEvent(new Event('dashoffice:navigate'));
}
export function Link({ href, children, ...rest }) {
  const click = e => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
    e.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${click} ...${rest}>${children}</a>`;
}
export const params = () => new URLSearchParams(location.search);

// --- toasts ---
let pushToast = () => {};
export function toast(msg, kind) { pushToast({ msg, kind, id: Math.random() }); }
export function Toasts() {
  const [items, setItems] = useState([]);
  pushToast = it => {
    setItems(x => [...x, it]);
    setTimeout(() => setItems(x => x.filter(y => y !== it)), it.kind === 'error' ? 6000 : 3000);
  };
  const last = items[items.length - 1];
  return html`<div aria-live="polite" role="status">${last && html`<div class="toast ${last.kind || ''}">${last.msg}</div>`}</div>`;
}
export function errorText(e) {
  if (e?.status === 403) return t('forbidden');
  const f = e?.errors?.length ? ' — ' + e.errors.map(x => `${x.field}: ${x.message}`).join('; ') : '';
  return t('error_generic', { detail: (e?.message || String(e)) + f });
}
export const fail = e => toast(errorText(e), 'error');

/**
 * Loads data with `fn` whenever `deps` change. Returns {data, error, loading, reload, set}.
 * `error.unavailable` is true when the server does not have the route yet.
 */
export function useLoad(fn, deps = []) {
  const [st, setSt] = useState({ data: null, error: null, loading: true });
  const seq = useRef(0);
  const reload = useCallback(async (quiet) => {
    const n = ++seq.current;
    if (!quiet) setSt(s => ({ ...s, loading: true }));
    try {
      const data = await fn();
      if (n === seq.current) setSt({ data, error: null, loading: false });
    } catch (error) {
      if (n === seq.current) setSt(s => ({ data: s.data, error, loading: false }));
    }
  }, deps);
  useEffect(() => { reload(); }, [reload]);
  return { ...st, reload, set: data => setSt(s => ({ ...s, data: typeof data === 'function' ? data(s.data) : data })) };
}

/** Calls `fn` every `ms` while mounted (and the tab is visible). */
export function useInterval(fn, ms) {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    if (!ms) return undefined;
    const id = setInterval(() => { if (!document.hidden) ref.current(); }, ms);
    return () => clearInterval(id);
  }, [ms]);
}

// --- states ---
export const Loading = () => html`<p class="muted" role="status">${t('loading')}</p>`;
export function Empty({ title, children }) {
  return html`<div class="empty">${title && html`<strong>${title}</strong>`}${children}</div>`;
}
/** An error, or the "not available yet" empty state for a missing route. */
export function Problem({ error, what }) {
  if (!error) return null;
  if (error.unavailable) return html`<div class="panel"><${Empty} title=${t('not_available')}>${t('not_available_hint', { what: what || '' })}<//></div>`;
  return html`<div class="notice error" role="alert">${errorText(error)}</div>`;
}
/** Standard body of a loaded page section. */
export function Loaded({ st, what, children }) {
  if (st.error && !st.data) return html`<${Problem} error=${st.error} what=${what} />`;
  if (st.loading && !st.data) return html`<${Loading} />`;
  return children();
}

export function Pill({ kind, children }) { return html`<span class="pill ${kind || ''}">${children}</span>`; }

// --- forms ---
let uid = 0;
export function Field({ label, error, children, hint }) {
  const id = useRef(`f${++uid}`).current;
  const child = Array.isArray(children) ? children[0] : children;
  if (child && child.props && !child.props.id) child.props.id = id;
  if (child && child.props && error) child.props['aria-invalid'] = 'true';
  return html`<div class="field">
    <label for=${child?.props?.id || id}>${label}</label>
    ${children}
    ${hint && html`<div class="muted small-text">${hint}</div>`}
    ${error && html`<div class="err" role="alert">${error}</div>`}
  </div>`;
}

/** A modal dialog: Escape and the close button dismiss it; focus moves inside. */
export function Modal({ title, onClose, children, wide }) {
  const ref = useRef();
  useEffect(() => {
    const prev = document.activeElement;
    const first = ref.current?.querySelector('input, select, textarea, button:not(.x)');
    (first || ref.current)?.focus();
    const key = e => e.key === 'Escape' && onClose();
    addEventListener('keydown', key);
    return () => { removeEventListener('keydown', key); prev?.focus?.(); };
  }, []);
  return html`<div class="overlay" onClick=${e => e.target === e.currentTarget && onClose()}>
    <div class="dialog ${wide ? 'wide' : ''}" role="dialog" aria-modal="true" aria-label=${title} ref=${ref} tabindex="-1">
      <div class="spread"><h2>${title}</h2><button class="x small" aria-label=${t('close')} onClick=${onClose}>✕</button></div>
      ${children}
    </div>
  </div>`;
}

/** Runs an async action with a busy flag; errors become toasts. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const run = async (fn) => {
    setBusy(true);
    try { return await fn(); } catch (e) { fail(e); return undefined; } finally { setBusy(false); }
  };
  return [busy, run];
}

// --- who did it: "user:<id>" → the user's name (when this role may list users) ---
let users = null;
export function loadUsers() {
  users ||= get('/api/users').catch(() => []);
  return users;
}
export function useActor() {
  const [list, setList] = useState([]);
  useEffect(() => { loadUsers().then(setList); }, []);
  return a => {
    if (!a || !a.startsWith('user:')) return a;
    const u = list.find(x => x.id === a.slice(5));
    return u ? u.name || u.email : t('st_human');
  };
}
/** Keeps a scrolled box pinned to its end when `dep` changes (without scrolling the page). */
export function useStickToEnd(dep) {
  const ref = useRef();
  useEffect(() => {
    const pin = () => { const el = ref.current; if (el) el.scrollTop = el.scrollHeight; };
    pin();
    // Again once fonts, emoji and late renders have their size.
    requestAnimationFrame(pin);
    const timer = setTimeout(pin, 150);
    return () => clearTimeout(timer);
  }, [dep]);
  return ref;
}
