// The bridge's HTTP API (see bridges/README.md): bearer auth, JSON in and out.
import crypto from 'node:crypto';
import http from 'node:http';
import { BadContent, MediaFetchError, parseOutgoing } from './content.js';
import { NAME_RE, NotConnected } from './session.js';

const MAX_BODY = 1024 * 1024;

class HttpError extends Error {
  constructor(status, error, detail) { super(error); this.status = status; this.body = { error, ...(detail ? { detail } : {}) }; }
}

function send(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > MAX_BODY) throw new HttpError(413, 'body_too_large');
    chunks.push(c);
  }
  const raw = Buffer.concat(chunks).toString('utf8').trim();
  if (!raw) return {};
  try { return JSON.parse(raw); } catch { throw new HttpError(422, 'invalid_json'); }
}

function authorized(req, token) {
  const h = req.headers.authorization ?? '';
  const m = /^Bearer (.+)$/.exec(h);
  if (!m) return false;
  const a = Buffer.from(m[1]);
  const b = Buffer.from(token);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

export function createServer({ config, sessions, factory, log }) {
  const route = async (req, res) => {
    const url = new URL(req.url, 'http://bridge');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method;

    if (method === 'GET' && url.pathname === '/health') {
      return send(res, 200, { status: 'ok', sessions: sessions.list().length });
    }
    if (!authorized(req, config.token)) return send(res, 401, { error: 'unauthorized' });

    if (parts[0] === '_fake' && config.fake) return fakeRoute(req, res, parts, method);
    if (parts[0] !== 'sessions') throw new HttpError(404, 'not_found');
    if (parts.length === 1 && method === 'GET') {
      return send(res, 200, { sessions: sessions.list().map((s) => s.view()) });
    }
    const name = parts[1];
    if (!NAME_RE.test(name ?? '')) throw new HttpError(404, 'not_found');
    const s = sessions.get(name);

    if (parts.length === 2) {
      if (method === 'POST') {
        const body = await readJson(req);
        const webhook_url = body.webhook_url ?? undefined;
        const webhook_secret = body.webhook_secret ?? undefined;
        if (webhook_url !== undefined && (typeof webhook_url !== 'string' || !/^https?:\/\//.test(webhook_url))) {
          throw new HttpError(422, 'invalid_webhook_url');
        }
        if (webhook_secret !== undefined && (typeof webhook_secret !== 'string' || !webhook_secret)) {
          throw new HttpError(422, 'invalid_webhook_secret');
        }
        const haveUrl = webhook_url ?? s?.record.webhook_url ?? config.defaultWebhookUrl;
        const haveSecret = webhook_secret ?? s?.record.webhook_secret ?? config.defaultWebhookSecret;
        if (!haveUrl || !haveSecret) throw new HttpError(422, 'webhook_required', 'webhook_url and webhook_secret (or BRIDGE_WEBHOOK_URL/SECRET)');
        const [session, created] = await sessions.upsert(name, { webhook_url, webhook_secret });
        return send(res, created ? 201 : 200, session.view());
      }
      if (!s) throw new HttpError(404, 'unknown_session');
      if (method === 'GET') return send(res, 200, s.view());
      if (method === 'DELETE') {
        await sessions.remove(name);
        return send(res, 200, { name, state: 'logged_out', deleted: true });
      }
      throw new HttpError(405, 'method_not_allowed');
    }
    if (!s) throw new HttpError(404, 'unknown_session');
    if (parts.length === 3 && parts[2] === 'qr' && method === 'GET') {
      const qr = await s.qrView();
      if (!qr) throw new HttpError(404, 'no_qr_pending', `session is ${s.state}`);
      return send(res, 200, qr);
    }
    if (parts.length === 3 && parts[2] === 'messages' && method === 'POST') {
      let out;
      try { out = parseOutgoing(await readJson(req)); } catch (e) {
        if (e instanceof BadContent) throw new HttpError(422, 'invalid_message', e.message);
        throw e;
      }
      try {
        const id = await s.send(out.to, out.content);
        return send(res, 200, { id });
      } catch (e) {
        if (e instanceof NotConnected) throw new HttpError(409, 'not_connected');
        if (e instanceof BadContent) throw new HttpError(422, 'invalid_message', e.message);
        if (e instanceof MediaFetchError) throw new HttpError(e.retriable ? 502 : 422, 'media_unavailable', e.message);
        log.error('send failed', { session: name, err: String(e?.stack ?? e) });
        throw new HttpError(502, 'send_failed', String(e?.message ?? e));
      }
    }
    throw new HttpError(404, 'not_found');
  };

  // Test-only controls, mounted only with BRIDGE_FAKE=1 (see README "Fake mode").
  const fakeRoute = async (req, res, parts, method) => {
    const [, kind, name, action] = parts;
    if (kind !== 'sessions' || !name) throw new HttpError(404, 'not_found');
    const fake = factory.control(name);
    if (!fake) throw new HttpError(404, 'no_fake_client');
    if (method === 'GET' && action === 'sent') return send(res, 200, { sent: fake.sent });
    if (method !== 'POST') throw new HttpError(405, 'method_not_allowed');
    const body = await readJson(req);
    switch (action) {
      case 'scan': await fake.scan(); break;
      case 'inbound': return send(res, 200, { id: await fake.inbound(body) });
      case 'ack': await fake.ack(body.message_id, body.status); break;
      case 'silence': await fake.silence(); break;
      case 'logout': await fake.remoteLogout(); break;
      default: throw new HttpError(404, 'not_found');
    }
    return send(res, 200, { ok: true });
  };

  return http.createServer((req, res) => {
    route(req, res).catch((err) => {
      if (err instanceof HttpError) return send(res, err.status, err.body);
      log.error('request failed', { err: String(err?.stack ?? err) });
      if (!res.headersSent) send(res, 500, { error: 'internal' });
    });
  });
}
