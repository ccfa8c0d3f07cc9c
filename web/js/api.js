// The HTTP client: bearer token, one shared refresh when it expires (rotating refresh
// tokens), problem+json errors as ApiError. A 404 `route_not_found` means "this server
// does not offer that yet" and pages show an empty state instead of an error.

const KEY = 'dashoffice.session';
let session = JSON.parse(localStorage.getItem(KEY) || 'null');
let refreshing = null;
const listeners = new Set();

export const getSession = () => session;
export const onSession = fn => { listeners.add(fn); return () => listeners.delete(fn); };
export function setSession(s) {
  session = s;
  if (s) localStorage.setItem(KEY, JSON.stringify(s));
  else localStorage.removeItem(KEY);
  listeners.forEach(fn => fn(s));
}

export class ApiError extends Error {
  constructor(status, p) {
    super(p?.detail || p?.title || `HTTP ${status}`);
    this.status = status;
    this.code = p?.code || '';
    this.errors = p?.errors || [];
    this.unavailable = status === 404 && this.code === 'route_not_found';
  }
  /** Field errors as {field: message}. */
  fields() {
    const out = {};
    for (const e of this.errors) out[e.field] = out[e.field] ? `${out[e.field]}; ${e.message}` : e.message;
    return out;
  }
}

async function refresh() {
  if (!session?.refresh_token) throw new ApiError(401, { code: 'unauthorized' });
  refreshing ||= (async () => {
    try {
      const res = await fetch('/api/auth/refresh', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ refresh_token: session.refresh_token }),
      });
      if (!res.ok) { setSession(null); throw new ApiError(401, { code: 'session_expired' }); }
      const p = await res.json();
      setSession({ ...session, ...p });
    } finally { refreshing = null; }
  })();
  return refreshing;
}

/** A valid access token (refreshed when it expires within a minute). */
export async function token() {
  if (session && session.expires_at && Date.parse(session.expires_at) - Date.now() < 60_000) await refresh();
  return session?.access_token;
}

/**
 * Calls the API. `body` is JSON unless it is a string/Blob (sent with opts.type).
 * Returns parsed JSON, text (opts.text), a Blob (opts.blob) or null for 204.
 */
export async function api(method, path, body, opts = {}) {
  const go = async () => {
    const headers = {};
    const tk = await token();
    if (tk) headers.Authorization = `Bearer ${tk}`;
    let payload;
    if (body instanceof Blob || typeof body === 'string') { payload = body; headers['Content-Type'] = opts.type || 'text/plain'; }
    else if (body !== undefined) { payload = JSON.stringify(body); headers['Content-Type'] = 'application/json'; }
    return fetch(path, { method, headers, body: payload });
  };
  let res = await go();
  if (res.status === 401 && session?.refresh_token && !path.startsWith('/api/auth/')) {
    await refresh();
    res = await go();
  }
  if (res.status === 401 && !path.startsWith('/api/auth/login')) setSession(null);
  if (!res.ok) {
    let p = null;
    try { p = await res.json(); } catch { /* not JSON */ }
    throw new ApiError(res.status, p);
  }
  if (res.status === 204) return null;
  if (opts.blob) return res.blob();
  if (opts.text) return res.text();
  const ct = res.headers.get('content-type') || '';
  return ct.includes('json') ? res.json() : res.text();
}

export const get = (p, o) => api('GET', p, undefined, o);
export const post = (p, b, o) => api('POST', p, b === undefined ? {} : b, o);
export const put = (p, b) => api('PUT', p, b);
export const del = p => api('DELETE', p);

/** Query string from an object, skipping empty values. */
export function qs(o) {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null && v !== '') s.set(k, v);
  const out = s.toString();
  return out ? `?${out}` : '';
}

/** Uploads a file with progress (fetch has no upload progress), bearer auth included. */
export async function upload(path, file, type, onProgress) {
  const tk = await token();
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('POST', path);
    if (tk) x.setRequestHeader('Authorization', `Bearer ${tk}`);
    x.setRequestHeader('Content-Type', type);
    x.upload.onprogress = e => e.lengthComputable && onProgress?.(e.loaded / e.total);
    x.onload = () => {
      let p = null;
      try { p = JSON.parse(x.responseText); } catch { /* not JSON */ }
      if (x.status >= 200 && x.status < 300) resolve(p); else reject(new ApiError(x.status, p));
    };
    x.onerror = () => reject(new ApiError(0, { detail: 'network error' }));
    x.send(file);
  });
}

/** Downloads an authenticated file (CSV export) under `name`. */
export async function download(path, name) {
  const blob = await api('GET', path, undefined, { blob: true });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url; a.download = name;
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}
