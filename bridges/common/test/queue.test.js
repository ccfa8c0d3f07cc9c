import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { EventQueues } from '../src/queue.js';
import { makeLogger } from '../src/log.js';
import { startAppliance } from '../testing/appliance.js';

const opts = { retryMinMs: 20, retryMaxMs: 100, webhookTimeoutMs: 1000 };
const log = makeLogger('silent');
const body = (i) => JSON.stringify({ id: `evt-${i}`, session: 's', type: 'message', timestamp: new Date().toISOString() });

test('events wait on disk while the appliance is down, then arrive in order', { timeout: 10000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'queue-'));
  const app = await startAppliance({ secret: 'k' });
  app.down = true;
  const target = () => ({ url: app.webhookUrl(), secret: 'k' });
  const q = new EventQueues({ dir, opts, log, target });
  for (let i = 0; i < 5; i++) q.push('s', body(i));
  assert.equal(fs.readdirSync(path.join(dir, 's')).length, 5);
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(app.events.length, 0);
  assert.equal(q.pending(), 5);
  app.down = false;
  await app.waitFor((e) => e.id === 'evt-4');
  assert.deepEqual(app.events.map((e) => e.id), ['evt-0', 'evt-1', 'evt-2', 'evt-3', 'evt-4']);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(fs.readdirSync(path.join(dir, 's')).length, 0);
  q.close();
  await app.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a new queue picks up what an old one left on disk, keeping order and ids', { timeout: 10000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'queue-'));
  const app = await startAppliance({ secret: 'k' });
  app.down = true;
  const target = () => ({ url: app.webhookUrl(), secret: 'k' });
  const q1 = new EventQueues({ dir, opts, log, target });
  q1.push('a', body(1));
  q1.push('a', body(2));
  q1.close();
  const q2 = new EventQueues({ dir, opts, log, target });
  q2.openAll();
  q2.push('a', body(3));
  app.down = false;
  await app.waitFor((e) => e.id === 'evt-3');
  assert.deepEqual(app.events.map((e) => e.id), ['evt-1', 'evt-2', 'evt-3']);
  q2.close();
  await app.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a wrong secret is never "delivered": 401 keeps the event queued', { timeout: 10000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'queue-'));
  const app = await startAppliance({ secret: 'right' });
  let secret = 'wrong';
  const q = new EventQueues({ dir, opts, log, target: () => ({ url: app.webhookUrl(), secret }) });
  q.push('s', body(1));
  await new Promise((r) => setTimeout(r, 150));
  assert.ok(app.badSignatures >= 1);
  assert.equal(q.pending(), 1);
  secret = 'right'; // the appliance re-registered the session with the right secret
  await app.waitFor((e) => e.id === 'evt-1');
  q.close();
  await app.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
