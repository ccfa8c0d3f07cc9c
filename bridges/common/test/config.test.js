import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../src/config.js';

test('a bridge without a token, or with a bad number, refuses to start', () => {
  assert.throws(() => loadConfig({}), /BRIDGE_TOKEN/);
  assert.throws(() => loadConfig({ BRIDGE_TOKEN: 'long-enough', PORT: 'abc' }), /PORT/);
});

test('defaults bind localhost and back off up to a minute', () => {
  const c = loadConfig({ BRIDGE_TOKEN: 'long-enough', BRIDGE_FAKE: '1' });
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.retryMaxMs, 60000);
  assert.equal(c.fake, true);
  assert.equal(loadConfig({ BRIDGE_TOKEN: 'long-enough' }).fake, false);
});
