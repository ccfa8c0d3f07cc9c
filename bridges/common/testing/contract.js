// The contract suite: the SAME tests run against every adapter with its fake client.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBridge } from '../src/index.js';
import { PIXEL_PNG, startAppliance } from './appliance.js';

export const TOKEN = 'test-bridge-token';
export const SECRET = 'bridge-secret';

/** Fast timings so every test finishes in a few seconds. */
export function testConfig(dataDir, extra = {}) {
  return {
    host: '127.0.0.1', port: 0, token: TOKEN, dataDir, fake: true,
    defaultWebhookUrl: null, defaultWebhookSecret: null,
    retryMinMs: 50, retryMaxMs: 400, webhookTimeoutMs: 2000,
    watchdogIntervalMs: 100, watchdogTimeoutMs: 150, watchdogFailures: 2, startTimeoutMs: 10000,
    reconnectMinMs: 30, reconnectMaxMs: 300,
    mediaInlineMaxBytes: 1024 * 1024, mediaFetchMaxBytes: 8 * 1024 * 1024,
    chromiumPath: null, logLevel: process.env.BRIDGE_LOG_LEVEL || 'silent',
    ...extra,
  };
}

/** Small HTTP client for the bridge API. */
export function api(port, token = TOKEN) {
  const call = async (method, p, body) => {
    const res = await fetch(`http://127.0.0.1:${port}${p}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  return {
    get: (p) => call('GET', p), post: (p, b) => call('POST', p, b ?? {}), del: (p) => call('DELETE', p),
  };
}

const T = { timeout: 20000 };

export function contractSuite(definition) {
  describe(`bridge contract: ${definition.kind}`, () => {
    let dir, appliance, bridge, http, sentId;
    const S = 'shop1';
    const authDir = () => path.join(dir, 'sessions', S, 'auth');
    const stateEvent = (state, extra = () => true) => (e) => e.type === 'state' && e.session === S && e.state.state === state && extra(e);
    const mark = () => appliance.events.length;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `bridge-${definition.kind}-`));
      appliance = await startAppliance({ secret: SECRET });
      bridge = await startBridge(definition, testConfig(dir));
      http = api(bridge.port);
    });
    after(async () => {
      await bridge?.close();
      await appliance?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('answers /health without a token and refuses the API without one', T, async () => {
      const h = await api(bridge.port, null).get('/health');
      assert.equal(h.status, 200);
      assert.deepEqual(h.body, { status: 'ok', sessions: 0 });
      assert.equal((await api(bridge.port, null).get('/sessions')).status, 401);
      assert.equal((await api(bridge.port, 'wrong-token-x').get('/sessions')).status, 401);
      assert.equal((await http.get('/sessions/nope')).status, 404);
    });

    it('starts a session and shows its QR (text + PNG data URL)', T, async () => {
      const from = mark();
      const r = await http.post(`/sessions/${S}`, { webhook_url: appliance.webhookUrl(), webhook_secret: SECRET });
      assert.equal(r.status, 201);
      assert.equal(r.body.name, S);
      const e = await appliance.waitFor(stateEvent('qr_pending'), { from, what: 'qr_pending' });
      assert.ok(e.state.qr);
      assert.match(e.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
      const qr = await http.get(`/sessions/${S}/qr`);
      assert.equal(qr.status, 200);
      assert.equal(qr.body.qr, e.state.qr);
      assert.match(qr.body.png, /^data:image\/png;base64,/);
      const st = await http.get(`/sessions/${S}`);
      assert.equal(st.body.state, 'qr_pending');
      assert.equal(st.body.reason, null);
      assert.ok(!Number.isNaN(Date.parse(st.body.since)));
      assert.equal((await http.post(`/sessions/${S}`, {})).status, 200, 'second POST resumes, not creates');
      assert.equal(appliance.badSignatures, 0);
    });

    it('goes connected when the QR is scanned', T, async () => {
      const from = mark();
      assert.equal((await http.post(`/_fake/sessions/${S}/scan`)).status, 200);
      await appliance.waitFor(stateEvent('connected'), { from, what: 'connected' });
      const st = await http.get(`/sessions/${S}`);
      assert.equal(st.body.state, 'connected');
      assert.equal(st.body.me, '51900000001');
      assert.equal((await http.get(`/sessions/${S}/qr`)).status, 404);
      const list = await http.get('/sessions');
      assert.deepEqual(list.body.sessions.map((s) => [s.name, s.state]), [[S, 'connected']]);
    });

    it('delivers an inbound text as a signed message event', T, async () => {
      const from = mark();
      const r = await http.post(`/_fake/sessions/${S}/inbound`, { from: '51987654321', text: 'hola', name: 'Ana' });
      const e = await appliance.waitFor((x) => x.type === 'message', { from, what: 'message' });
      assert.equal(e.session, S);
      assert.equal(e.message.id, r.body.id);
      assert.equal(e.message.from, '51987654321');
      assert.equal(e.message.name, 'Ana');
      assert.deepEqual(e.message.content, { type: 'text', body: 'hola' });
      assert.equal(appliance.badSignatures, 0);
    });

    it('ignores group, status-broadcast and own messages', T, async () => {
      const from = mark();
      await http.post(`/_fake/sessions/${S}/inbound`, { from: '51987654321', text: 'en el grupo', group: true });
      await http.post(`/_fake/sessions/${S}/inbound`, { from: '51987654321', text: 'mi estado', status: true });
      await http.post(`/_fake/sessions/${S}/inbound`, { from: '51987654321', text: 'desde mi teléfono', from_me: true });
      const r = await http.post(`/_fake/sessions/${S}/inbound`, { from: '51987654321', text: 'directo' });
      await appliance.waitFor((x) => x.type === 'message' && x.message.id === r.body.id, { from, what: 'direct message' });
      assert.deepEqual(appliance.events.slice(from).filter((x) => x.type === 'message').map((x) => x.message.content.body), ['directo']);
    });

    it('delivers inbound media inline as a data URL', T, async () => {
      const from = mark();
      await http.post(`/_fake/sessions/${S}/inbound`, {
        from: '51987654321', name: 'Ana',
        media: { kind: 'image', mime_type: 'image/png', data: PIXEL_PNG.toString('base64'), caption: 'foto' },
      });
      const e = await appliance.waitFor((x) => x.type === 'message', { from, what: 'media message' });
      const c = e.message.content;
      assert.equal(c.type, 'media');
      assert.equal(c.kind, 'image');
      assert.equal(c.mime_type, 'image/png');
      assert.equal(c.caption, 'foto');
      assert.equal(c.media_id, null);
      assert.equal(c.url, 'data:image/png;base64,' + PIXEL_PNG.toString('base64'));
      await http.post(`/_fake/sessions/${S}/inbound`, {
        from: '51987654321', media: { kind: 'document', mime_type: 'application/pdf', data: Buffer.from('%PDF-1.4').toString('base64'), filename: 'boleta.pdf' },
      });
      const d = await appliance.waitFor((x) => x.type === 'message' && x.message.content.kind === 'document', { from, what: 'document' });
      assert.equal(d.message.content.filename, 'boleta.pdf');
      assert.equal(d.message.content.mime_type, 'application/pdf');
    });

    it('delivers location, button and list replies, and marks the rest unsupported', T, async () => {
      const from = mark();
      await http.post(`/_fake/sessions/${S}/inbound`, { from: '51987654321', location: { latitude: -12.04, longitude: -77.03, name: 'Tienda', address: 'Av. Lima 1' } });
      await http.post(`/_fake/sessions/${S}/inbound`, { from: '51987654321', button_reply: { id: 'yes', title: 'Sí' } });
      await http.post(`/_fake/sessions/${S}/inbound`, { from: '51987654321', list_reply: { id: 'r1', title: 'Pizza', description: 'Grande' } });
      await http.post(`/_fake/sessions/${S}/inbound`, { from: '51987654321', unsupported: true });
      await appliance.waitFor((x) => x.type === 'message' && x.message.content.type === 'unsupported', { from, what: 'unsupported' });
      const contents = appliance.events.slice(from).filter((x) => x.type === 'message').map((x) => x.message.content);
      assert.deepEqual(contents[0], { type: 'location', latitude: -12.04, longitude: -77.03, name: 'Tienda', address: 'Av. Lima 1' });
      assert.deepEqual(contents[1], { type: 'button_reply', id: 'yes', title: 'Sí' });
      assert.deepEqual(contents[2], { type: 'list_reply', id: 'r1', title: 'Pizza', description: 'Grande' });
      assert.equal(contents[3].type, 'unsupported');
      assert.equal(typeof contents[3].kind, 'string');
    });

    it('sends text and answers the WhatsApp message id', T, async () => {
      const r = await http.post(`/sessions/${S}/messages`, { to: '51987654321', content: { type: 'text', body: 'Bienvenida' } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(r.body.id);
      sentId = r.body.id;
      const sent = (await http.get(`/_fake/sessions/${S}/sent`)).body.sent;
      const last = sent.at(-1);
      assert.equal(last.id, r.body.id);
      assert.equal(last.to, '51987654321');
      assert.equal(last.text, 'Bienvenida');
    });

    it('degrades buttons, lists and templates to numbered text', T, async () => {
      const b = await http.post(`/sessions/${S}/messages`, { to: '51987654321', content: {
        type: 'buttons', body: '¿Confirmas?', header: null, footer: null, buttons: [{ id: 'a', title: 'A' }, { id: 'b', title: 'B' }] } });
      assert.equal(b.status, 200);
      const l = await http.post(`/sessions/${S}/messages`, { to: '51987654321', content: {
        type: 'list', body: 'Menú', header: null, footer: 'Gracias', button: 'Ver',
        sections: [{ title: 'Pizzas', rows: [{ id: 'r1', title: 'Napolitana', description: null }, { id: 'r2', title: 'Hawaiana', description: 'con piña' }] }] } });
      assert.equal(l.status, 200);
      const t = await http.post(`/sessions/${S}/messages`, { to: '51987654321', content: { type: 'template', name: 'order_ready', language: 'es', params: ['Ana', '#42'] } });
      assert.equal(t.status, 200);
      const sent = (await http.get(`/_fake/sessions/${S}/sent`)).body.sent.slice(-3);
      assert.equal(sent[0].text, '¿Confirmas?\n\n1. A\n2. B');
      assert.equal(sent[1].text, 'Menú\n\n1. Napolitana\n2. Hawaiana - con piña\n\nGracias');
      assert.equal(sent[2].text, 'Ana\n#42');
    });

    it('sends media fetched from a URL', T, async () => {
      const r = await http.post(`/sessions/${S}/messages`, { to: '51987654321', content: {
        type: 'media', kind: 'image', url: `${appliance.base}/media/pixel.png`, caption: 'catálogo', filename: null } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const last = (await http.get(`/_fake/sessions/${S}/sent`)).body.sent.at(-1);
      assert.equal(last.kind, 'image');
      assert.equal(last.caption, 'catálogo');
      assert.equal(last.id, r.body.id);
      const bad = await http.post(`/sessions/${S}/messages`, { to: '51987654321', content: {
        type: 'media', kind: 'image', url: `${appliance.base}/media/missing.png`, caption: null, filename: null } });
      assert.equal(bad.status, 422, 'a 404 media URL is not retriable');
    });

    it('rejects bad message bodies with 422', T, async () => {
      for (const body of [{}, { to: '51987654321' }, { to: 'abc', content: { type: 'text', body: 'x' } },
        { to: '51987654321', content: { type: 'carousel' } }, { to: '51987654321', content: { type: 'text' } }]) {
        const r = await http.post(`/sessions/${S}/messages`, body);
        assert.equal(r.status, 422, JSON.stringify(body));
      }
    });

    it('reports delivery acks for sent messages', T, async () => {
      const from = mark();
      await http.post(`/_fake/sessions/${S}/ack`, { message_id: sentId, status: 'delivered' });
      await http.post(`/_fake/sessions/${S}/ack`, { message_id: sentId, status: 'read' });
      await appliance.waitFor((x) => x.type === 'ack' && x.ack.status === 'read', { from, what: 'read ack' });
      const acks = appliance.events.slice(from).filter((x) => x.type === 'ack').map((x) => x.ack);
      assert.deepEqual(acks, [
        { message_id: sentId, status: 'delivered', error: null },
        { message_id: sentId, status: 'read', error: null },
      ]);
    });

    it('reconnects a connection that went silent (watchdog) and reports it', T, async () => {
      const from = mark();
      await http.post(`/_fake/sessions/${S}/silence`);
      const down = await appliance.waitFor(stateEvent('starting', (e) => /watchdog/.test(e.state.reason ?? '')), { from, what: 'watchdog restart' });
      assert.match(down.state.reason, /watchdog/);
      await appliance.waitFor(stateEvent('connected'), { from, what: 'reconnected' });
      const r = await http.post(`/sessions/${S}/messages`, { to: '51987654321', content: { type: 'text', body: 'sigo aquí' } });
      assert.equal(r.status, 200);
    });

    it('reports a logout from the phone, wipes credentials and stops', T, async () => {
      const from = mark();
      assert.ok(fs.existsSync(authDir()));
      await http.post(`/_fake/sessions/${S}/logout`);
      await appliance.waitFor(stateEvent('logged_out'), { from, what: 'logged_out' });
      const st = await http.get(`/sessions/${S}`);
      assert.equal(st.body.state, 'logged_out');
      assert.equal(st.body.me, null);
      assert.equal(fs.existsSync(authDir()), false, 'credentials wiped');
      const r = await http.post(`/sessions/${S}/messages`, { to: '51987654321', content: { type: 'text', body: 'x' } });
      assert.equal(r.status, 409);
      assert.deepEqual(r.body, { error: 'not_connected' });
      await new Promise((res) => setTimeout(res, 300));
      assert.equal(appliance.events.slice(from).filter((e) => e.type === 'state').at(-1).state.state, 'logged_out', 'not retried');
    });

    it('starts again with a new QR after logout, and DELETE logs out and forgets it', T, async () => {
      let from = mark();
      await http.post(`/sessions/${S}`, {});
      await appliance.waitFor(stateEvent('qr_pending'), { from, what: 'new qr' });
      from = mark();
      await http.post(`/_fake/sessions/${S}/scan`);
      await appliance.waitFor(stateEvent('connected'), { from, what: 'connected again' });
      from = mark();
      const d = await http.del(`/sessions/${S}`);
      assert.equal(d.status, 200);
      await appliance.waitFor(stateEvent('logged_out'), { from, what: 'logged_out after delete' });
      assert.equal((await http.get(`/sessions/${S}`)).status, 404);
      assert.equal(fs.existsSync(authDir()), false);
      assert.equal((await http.get('/health')).body.sessions, 0);
    });

    it('delivered every event once, in order, all signed', T, async () => {
      assert.equal(appliance.badSignatures, 0);
      const ts = appliance.events.map((e) => Date.parse(e.timestamp));
      assert.deepEqual(ts, [...ts].sort((a, b) => a - b));
      assert.equal(new Set(appliance.events.map((e) => e.id)).size, appliance.events.length);
      assert.equal(bridge.queues.pending(), 0);
    });
  });
}
