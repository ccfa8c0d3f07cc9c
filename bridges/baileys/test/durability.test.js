// Queue durability: with the appliance down, events pile up on disk; the bridge is killed
// with SIGKILL and both are restarted; every event must then arrive exactly once.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { api, spawnBridge, startAppliance } from '@dashoffice/bridge-common/testing';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
const SECRET = 'bridge-secret';
const TOKEN = 'durability-token';

test('events queued while the appliance is down survive kill -9 of the bridge and arrive once each', { timeout: 20000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-durability-'));
  let appliance = await startAppliance({ secret: SECRET });
  const appPort = appliance.port;
  const env = {
    BRIDGE_TOKEN: TOKEN, BRIDGE_DATA_DIR: dir, BRIDGE_FAKE: '1',
    BRIDGE_WEBHOOK_URL: appliance.webhookUrl('bot-7'), BRIDGE_WEBHOOK_SECRET: SECRET,
    BRIDGE_RETRY_MIN_MS: '50', BRIDGE_RETRY_MAX_MS: '300', BRIDGE_RECONNECT_MIN_MS: '30',
    BRIDGE_WATCHDOG_INTERVAL_MS: '1000',
  };
  let bridge = await spawnBridge(MAIN, env);
  try {
    let http = api(bridge.port, TOKEN);
    assert.equal((await http.post('/sessions/shop')).status, 201, 'webhook from env defaults');
    await appliance.waitFor((e) => e.type === 'state' && e.state.state === 'qr_pending');
    await http.post('/_fake/sessions/shop/scan');
    await appliance.waitFor((e) => e.type === 'state' && e.state.state === 'connected');
    const sent = await http.post('/sessions/shop/messages', { to: '51987654321', content: { type: 'text', body: 'hola' } });
    assert.equal(sent.status, 200);

    // The appliance goes away (connection refused); the bridge keeps receiving.
    await appliance.close();
    const ids = [];
    for (let i = 0; i < 20; i++) {
      const r = await http.post('/_fake/sessions/shop/inbound', { from: '51987654321', text: `msg ${i}`, name: 'Ana' });
      ids.push(r.body.id);
    }
    await http.post('/_fake/sessions/shop/ack', { message_id: sent.body.id, status: 'delivered' });
    const queued = fs.readdirSync(path.join(dir, 'queue', 'shop')).filter((f) => f.endsWith('.json'));
    assert.ok(queued.length >= 21, `events are on disk before anything is delivered (${queued.length})`);

    await bridge.kill('SIGKILL');
    bridge = await spawnBridge(MAIN, env);
    http = api(bridge.port, TOKEN);
    appliance = await startAppliance({ secret: SECRET, port: appPort });

    await appliance.waitFor((e) => e.type === 'message' && e.message.id === ids.at(-1), { timeout: 10000, what: 'last queued message' });
    await appliance.waitFor((e) => e.type === 'ack' && e.ack.message_id === sent.body.id, { timeout: 5000, what: 'queued ack' });
    const got = appliance.events.filter((e) => e.type === 'message').map((e) => e.message.id);
    assert.deepEqual(got, ids, 'every queued message exactly once, in order');
    assert.equal(new Set(appliance.events.map((e) => e.id)).size, appliance.events.length);
    assert.ok(appliance.arrivals >= appliance.events.length);
    assert.equal(appliance.badSignatures, 0);
    // The session resumed from its saved credentials without a new QR.
    await appliance.waitFor((e) => e.type === 'state' && e.state.state === 'connected', { what: 'resumed session' });
    assert.equal((await http.get('/sessions/shop')).body.state, 'connected');
    const inbound = await http.post('/_fake/sessions/shop/inbound', { from: '51987654321', text: 'after restart' });
    await appliance.waitFor((e) => e.type === 'message' && e.message.id === inbound.body.id, { what: 'live message after restart' });
  } finally {
    await bridge.kill('SIGKILL').catch(() => {});
    await appliance.close().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
