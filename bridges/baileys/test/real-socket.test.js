// The real Baileys socket (not the fake) through the real bridge process, pointed at a local
// server that drops the WebSocket: the session must report why and keep reconnecting.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { api, spawnBridge, startAppliance } from '@dashoffice/bridge-common/testing';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

test('a real Baileys socket that cannot connect is reported and retried, not crashed', { timeout: 20000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-real-'));
  let upgrades = 0;
  const wa = http.createServer((req, res) => { res.writeHead(404); res.end(); });
  wa.on('upgrade', (req, socket) => { upgrades += 1; socket.destroy(); });
  await new Promise((r) => wa.listen(0, '127.0.0.1', r));
  const appliance = await startAppliance({ secret: 's' });
  const bridge = await spawnBridge(MAIN, {
    BRIDGE_TOKEN: 'real-socket-token', BRIDGE_DATA_DIR: dir,
    BRIDGE_BAILEYS_WS_URL: `ws://127.0.0.1:${wa.address().port}/ws/chat`,
    BRIDGE_RECONNECT_MIN_MS: '50', BRIDGE_RECONNECT_MAX_MS: '200', BRIDGE_RETRY_MIN_MS: '50',
  });
  try {
    const http2 = api(bridge.port, 'real-socket-token');
    assert.equal((await http2.post('/sessions/real', { webhook_url: appliance.webhookUrl(), webhook_secret: 's' })).status, 201);
    const e = await appliance.waitFor((x) => x.type === 'state' && x.state.state === 'starting' && x.state.reason, { timeout: 10000, what: 'starting with reason' });
    assert.match(e.state.reason, /\(\d+\)$/, 'reason carries the disconnect code');
    const deadline = Date.now() + 10000;
    while (upgrades < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(upgrades >= 3, `reconnected (${upgrades} attempts)`);
    assert.equal((await http2.get('/sessions/real')).body.state, 'starting');
    assert.ok(fs.existsSync(path.join(dir, 'sessions', 'real', 'auth')), 'auth state lives in the session directory');
    const sent = await http2.post('/sessions/real/messages', { to: '51987654321', content: { type: 'text', body: 'x' } });
    assert.equal(sent.status, 409);
  } finally {
    await bridge.kill('SIGKILL');
    await appliance.close();
    wa.closeAllConnections?.();
    await new Promise((r) => wa.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
