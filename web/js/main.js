// The dashboard shell: login, navigation, language switch and lazily loaded pages.
import { html, render, useState, useEffect, Component } from './lib.js';
import { t, getLang, setLang, setTenant } from './i18n.js';
import { api, getSession, setSession, onSession } from './api.js';
import { Link, navigate, Toasts, Loading, Problem, useInterval } from './ui.js';

const routes = [
  [/^\/$/, 'overview', 'nav_overview'],
  [/^\/inbox(?:\/([^/]+))?$/, 'inbox', 'nav_inbox'],
  [/^\/simulator$/, 'simulator', 'nav_simulator'],
  [/^\/bots$/, 'bots', 'nav_bots'],
  [/^\/bots\/([^/]+)\/pair$/, 'pair', 'nav_bots'],
  [/^\/flows$/, 'flows', 'nav_flows'],
  [/^\/flows\/([^/]+)\/([^/]+)$/, 'flow', 'nav_flows'],
  [/^\/products$/, 'products', 'nav_products'],
  [/^\/orders(?:\/([^/]+))?$/, 'orders', 'nav_orders'],
  [/^\/customers$/, 'customers', 'nav_customers'],
  [/^\/sellers$/, 'sellers', 'nav_sellers'],
  [/^\/outbox$/, 'outbox', 'nav_outbox'],
  [/^\/users$/, 'users', 'nav_users'],
  [/^\/settings$/, 'settings', 'nav_settings'],
  [/^\/errors$/, 'errors', 'nav_errors'],
];
const loaders = {
  overview: () => import('./pages/overview.js'),
  inbox: () => import('./pages/inbox.js'),
  simulator: () => import('./pages/simulator.js'),
  bots: () => import('./pages/bots.js'),
  pair: () => import('./pages/bots.js'),
  flows: () => import('./pages/flows.js'),
  flow: () => import('./pages/flows.js'),
  products: () => import('./pages/products.js'),
  orders: () => import('./pages/orders.js'),
  customers: () => import('./pages/people.js'),
  sellers: () => import('./pages/people.js'),
  outbox: () => import('./pages/outbox.js'),
  users: () => import('./pages/users.js'),
  settings: () => import('./pages/settings.js'),
  errors: () => import('./pages/errors.js'),
};

const nav = [
  ['/', 'nav_overview', '▦'],
  ['sec_talk'],
  ['/inbox', 'nav_inbox', '✉'],
  ['/simulator', 'nav_simulator', '▶'],
  ['/bots', 'nav_bots', '☺'],
  ['/flows', 'nav_flows', '⇄'],
  ['sec_sell'],
  ['/orders', 'nav_orders', '☰'],
  ['/products', 'nav_products', '▣'],
  ['/customers', 'nav_customers', '☻'],
  ['/sellers', 'nav_sellers', '★'],
  ['sec_admin'],
  ['/outbox', 'nav_outbox', '⚑'],
  ['/users', 'nav_users', '♟'],
  ['/settings', 'nav_settings', '⚙'],
  ['/errors', 'nav_errors', '⚠'],
];

function match(path) {
  for (const [re, page, title] of routes) {
    const m = path.match(re);
    if (m) return { page, title, args: m.slice(1) };
  }
  return null;
}

function Login({ onLang }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const submit = async e => {
    e.preventDefault();
    setBusy(true); setErr('');
    try {
      const s = await api('POST', '/api/auth/login', { email, password });
      setSession(s);
    } catch (x) {
      setErr(['invalid_credentials', 'too_many_login_attempts', 'rate_limited'].includes(x.code) ? t(x.code) : x.message);
    } finally { setBusy(false); }
  };
  return html`<main class="login">
    <form class="panel" onSubmit=${submit} aria-labelledby="login-title">
      <div class="brand"><img src="/favicon.svg" alt="" /> <span id="login-title">DashOffice</span></div>
      <p class="muted">${t('app_tagline')}</p>
      <div class="field"><label for="email">${t('email')}</label>
        <input id="email" name="email" type="email" autocomplete="username" required value=${email} onInput=${e => setEmail(e.target.value)} /></div>
      <div class="field"><label for="password">${t('password')}</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required value=${password} onInput=${e => setPassword(e.target.value)} /></div>
      ${err && html`<div class="notice error" role="alert">${err}</div>`}
      <div class="spread">
        <${LangSwitch} onLang=${onLang} />
        <button class="primary" type="submit" disabled=${busy}>${busy ? t('logging_in') : t('login')}</button>
      </div>
    </form>
  </main>`;
}

function LangSwitch({ onLang }) {
  return html`<label class="check"><span class="sr-only">${t('language')}</span>
    <select id="lang" aria-label=${t('language')} value=${getLang()} onChange=${e => onLang(e.target.value)}>
      <option value="es">Español</option><option value="en">English</option>
    </select></label>`;
}

/** A page that throws while rendering shows the error instead of blanking the app. */
class Boundary extends Component {
  constructor() { super(); this.state = { error: null }; }
  static getDerivedStateFromError(error) { return { error }; }
  componentDidUpdate(prev) { if (prev.path !== this.props.path && this.state.error) this.setState({ error: null }); }
  render() { return this.state.error ? html`<${Problem} error=${this.state.error} />` : this.props.children; }
}

function Page({ route }) {
  const [mod, setMod] = useState(null);
  const [err, setErr] = useState(null);
  useEffect(() => {
    let live = true;
    setErr(null);
    loaders[route.page]().then(m => live && setMod(() => m), e => live && setErr(e));
    return () => { live = false; };
  }, [route.page]);
  if (err) return html`<${Problem} error=${err} />`;
  if (!mod) return html`<${Loading} />`;
  const C = mod.pages?.[route.page];
  return C ? html`<${C} args=${route.args} key=${route.page} />` : html`<${Loading} />`;
}

function Shell({ path, onLang }) {
  const s = getSession();
  const [open, setOpen] = useState(false);
  const [unseen, setUnseen] = useState(0);
  const route = match(path);
  const canAdmin = ['owner', 'admin'].includes(s.user?.role);
  const pollErrors = () => canAdmin && api('GET', '/api/admin/errors?unseen=true&limit=1').then(r => setUnseen(r.unseen_count || 0), () => {});
  useEffect(() => { pollErrors(); }, []);
  useInterval(pollErrors, 60_000);
  useEffect(() => { setOpen(false); document.getElementById('content')?.focus(); }, [path]);
  useEffect(() => { document.title = `${route ? t(route.title) : '404'} · DashOffice`; });
  const logout = async () => {
    try { await api('POST', '/api/auth/logout', { refresh_token: s.refresh_token }); } catch { /* gone anyway */ }
    setSession(null);
    navigate('/');
  };
  const current = href => (href === '/' ? path === '/' : path === href || path.startsWith(href + '/'));
  return html`<div class="shell">
    <a class="skip" href="#content">${t('skip')}</a>
    <nav class="side ${open ? 'open' : ''}" aria-label="DashOffice" id="sidenav">
      <div class="brand"><img src="/favicon.svg" alt="" /> DashOffice</div>
      <div class="nav">
        ${nav.filter(([href]) => canAdmin || !['/users', '/errors'].includes(href)).map(([href, key, icon]) => key === undefined
          ? html`<div class="sep">${t(href)}</div>`
          : html`<${Link} href=${href} aria-current=${current(href) ? 'page' : undefined} data-nav=${href}>
              <span aria-hidden="true">${icon}</span> ${t(key)}
              ${href === '/errors' && unseen > 0 && html`<span class="badge" aria-label=${t('unseen', { n: unseen })}>${unseen}</span>`}
            <//>`)}
      </div>
    </nav>
    <div class="main">
      <header class="topbar">
        <button class="menu-btn" aria-label=${t('menu')} aria-expanded=${open} aria-controls="sidenav" onClick=${() => setOpen(!open)}>☰</button>
        <strong class="grow">${s.tenant?.name || ''}</strong>
        <${LangSwitch} onLang=${onLang} />
        <span class="muted hide-sm">${s.user?.name || s.user?.email}</span>
        <button onClick=${logout}>${t('logout')}</button>
      </header>
      <main class="content" id="content" tabindex="-1">
        ${route ? html`<${Boundary} path=${path}><${Page} route=${route} /><//>` : html`<h1>404</h1><p><${Link} href="/">${t('nav_overview')}<//></p>`}
      </main>
    </div>
    <div class="scrim" hidden=${!open} onClick=${() => setOpen(false)}></div>
  </div>`;
}

function App() {
  const [session, setS] = useState(getSession());
  const [path, setPath] = useState(location.pathname);
  const [, setLangState] = useState(getLang());
  useEffect(() => onSession(setS), []);
  useEffect(() => {
    const on = () => setPath(location.pathname);
    addEventListener('popstate', on);
    addEventListener('dashoffice:navigate', on);
    return () => { removeEventListener('popstate', on); removeEventListener('dashoffice:navigate', on); };
  }, []);
  setTenant(session?.tenant || null);
  // Keep the tenant fresh (settings change formats) once per load.
  useEffect(() => {
    if (session) api('GET', '/api/tenant').then(tn => setSession({ ...getSession(), tenant: tn }), () => {});
  }, [!!session]);
  const onLang = l => { setLang(l); setLangState(l); };
  return html`${session ? html`<${Shell} path=${path} onLang=${onLang} />` : html`<${Login} onLang=${onLang} />`}<${Toasts} />`;
}

render(html`<${App} />`, document.getElementById('app'));
