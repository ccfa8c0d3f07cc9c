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
