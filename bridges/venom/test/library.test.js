// The pinned venom-bot still has the API the adapter relies on. Nothing here starts a browser.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);

test('venom-bot exports create() and a client with the methods the adapter calls', () => {
  const v = require('venom-bot');
  assert.equal(typeof v.create, 'function');
  const names = new Set();
  for (let p = v.Whatsapp.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const n of Object.getOwnPropertyNames(p)) names.add(n);
  }
  const used = ['sendText', 'sendImage', 'sendFile', 'sendVoice', 'sendImageAsSticker', 'onMessage', 'onAck',
    'onStateChange', 'getConnectionState', 'isConnected', 'getHostDevice', 'decryptFile', 'logout', 'close', 'useHere'];
  assert.deepEqual(used.filter((n) => !names.has(n)), []);
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
