// The pinned whatsapp-web.js still has the API and event names the adapter relies on.
// Nothing here starts a browser.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);

test('whatsapp-web.js exports Client, LocalAuth, MessageMedia and the events we listen to', () => {
  const w = require('whatsapp-web.js');
  for (const m of ['initialize', 'getState', 'sendMessage', 'logout', 'destroy']) assert.equal(typeof w.Client.prototype[m], 'function', m);
  assert.equal(typeof w.LocalAuth, 'function');
  const mm = new w.MessageMedia('image/png', 'AAEC', 'a.png', 3);
  assert.deepEqual([mm.mimetype, mm.data, mm.filename], ['image/png', 'AAEC', 'a.png']);
  const E = w.Events;
  assert.deepEqual([E.QR_RECEIVED, E.READY, E.MESSAGE_RECEIVED, E.MESSAGE_ACK, E.DISCONNECTED, E.AUTHENTICATION_FAILURE],
    ['qr', 'ready', 'message', 'message_ack', 'disconnected', 'auth_failure']);
  assert.deepEqual([w.MessageAck.ACK_ERROR, w.MessageAck.ACK_SERVER, w.MessageAck.ACK_DEVICE, w.MessageAck.ACK_READ], [-1, 1, 2, 3]);
  assert.equal(w.WAState.CONNECTED, 'CONNECTED');
  assert.equal(w.WAState.UNPAIRED, 'UNPAIRED');
});

test('the real bridge refuses to start without a usable system browser (and never downloads one)', { timeout: 15000 }, async () => {
  const { spawnBridge } = await import('@dashoffice/bridge-common/testing');
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-nobrowser-'));
  const main = fileURLToPath(new URL('../src/main.js', import.meta.url));
  await assert.rejects(
    spawnBridge(main, { BRIDGE_TOKEN: 'no-browser-token', BRIDGE_DATA_DIR: dir, PUPPETEER_EXECUTABLE_PATH: path.join(dir, 'no-chromium') }),
    /exited with 1: .*no executable browser at PUPPETEER_EXECUTABLE_PATH/s,
  );
  fs.rmSync(dir, { recursive: true, force: true });
});
