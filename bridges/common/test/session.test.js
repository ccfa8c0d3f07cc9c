import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startBridge } from '../src/index.js';
import { api, startAppliance, testConfig } from '../testing/index.js';

// An adapter whose client never connects nor fails: the hung-browser case.
class HangingAdapter {
  static starts = 0;
  async start() { HangingAdapter.starts += 1; await new Promise(() => {}); }
  async stop() {}
  async logout() {}
  async check() { return true; }
}
const definition = { kind: 'hang', Adapter: HangingAdapter, fakeFactory: () => ({ control: () => null }) };

test('a session stuck in starting is rebuilt after the start timeout', { timeout: 10000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-hang-'));
  const appliance = await startAppliance({ secret: 's' });
  const bridge = await startBridge(definition, testConfig(dir, { startTimeoutMs: 200, watchdogIntervalMs: 50 }));
  try {
    await api(bridge.port).post('/sessions/h', { webhook_url: appliance.webhookUrl(), webhook_secret: 's' });
    const e = await appliance.waitFor((x) => x.type === 'state' && /start timed out/.test(x.state.reason ?? ''), { what: 'start timeout' });
    assert.equal(e.state.state, 'starting');
    const deadline = Date.now() + 3000;
    while (HangingAdapter.starts < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(HangingAdapter.starts >= 2);
  } finally {
    await bridge.close();
    await appliance.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
