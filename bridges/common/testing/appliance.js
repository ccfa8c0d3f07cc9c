// A stand-in for the appliance's bridge webhook: checks X-Bridge-Signature, de-duplicates by
// event id (answers 2xx to duplicates, like the appliance), can be taken "down".
import crypto from 'node:crypto';
import http from 'node:http';

// 1x1 transparent PNG, served at /media/pixel.png for outbound media tests.
export const PIXEL_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

export async function startAppliance({ secret, port = 0 } = {}) {
  const state = { events: [], arrivals: 0, byId: new Map(), badSignatures: 0, down: false };
  const waiters = new Set();
  const notify = () => { for (const w of waiters) w(); };
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/media/pixel.png') {
      res.writeHead(200, { 'content-type': 'image/png' });
      return res.end(PIXEL_PNG);
    }
    if (req.method !== 'POST') { res.writeHead(404); return res.end(); }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (state.down) { res.writeHead(503); return res.end(); }
      const raw = Buffer.concat(chunks);
      const want = 'sha256=' + crypto.createHmac('sha256', secret).update(raw).digest('hex');
      const got = String(req.headers['x-bridge-signature'] ?? '');
      if (got !== want || req.headers['content-type'] !== 'application/json') {
        state.badSignatures += 1;
        res.writeHead(401);
        return res.end();
      }
      const evt = JSON.parse(raw.toString('utf8'));
      state.arrivals += 1;
      if (!state.byId.has(evt.id)) {
        state.byId.set(evt.id, evt);
        state.events.push(evt);
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
      notify();
    });
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {

    get events() { return state.events; },
    get arrivals() { return state.arrivals; },
    get badSignatures() { return state.badSignatures; },
    set down(v) { state.down = v; },
    base,
    port: server.address().port,
    webhookUrl: (bot = 'bot-1') => `${base}/webhooks/bridge/${bot}`,
    /** Resolves with the first stored event (after index `from`) matching `pred`. */
    waitFor(pred, { timeout = 5000, from = 0, what = 'event' } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const e = state.events.slice(from).find(pred);
          if (e) { cleanup(); resolve(e); }
        };
        const t = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(state.events.slice(from).map((e) => [e.type, e.state?.state ?? e.message?.content?.type ?? e.ack?.status]))}`));
        }, timeout);
        const cleanup = () => { clearTimeout(t); waiters.delete(check); };
        waiters.add(check);
        check();
      });
    },
    close: () => { server.closeAllConnections?.(); return new Promise((r) => server.close(r)); },
  };
}
