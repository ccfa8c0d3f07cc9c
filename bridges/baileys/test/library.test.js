// The pinned Baileys still has the API and numbers the adapter relies on (no network used).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as B from 'baileys';
import { realFactory } from '../src/client.js';
import { unwrap } from '../src/adapter.js';

test('baileys exports what the adapter calls, with the disconnect codes it maps', async () => {
  assert.equal(typeof (B.makeWASocket ?? B.default), 'function');
  assert.equal(typeof B.useMultiFileAuthState, 'function');
  assert.equal(typeof B.downloadMediaMessage, 'function');
  assert.equal(B.DisconnectReason.loggedOut, 401);
  assert.equal(B.DisconnectReason.forbidden, 403);
  assert.equal(B.DisconnectReason.connectionReplaced, 440);
  assert.equal(B.DisconnectReason.badSession, 500);
  assert.equal(B.DisconnectReason.restartRequired, 515);
  const S = B.proto.WebMessageInfo.Status;
  assert.deepEqual([S.ERROR, S.PENDING, S.SERVER_ACK, S.DELIVERY_ACK, S.READ, S.PLAYED], [0, 1, 2, 3, 4, 5]);
});

test('the real auth state is created in the session directory', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baileys-auth-'));
  const f = await realFactory();
  const { state, saveCreds } = await f.useAuthState(path.join(dir, 'auth'));
  assert.ok(state.creds.noiseKey);
  await saveCreds();
  assert.ok(fs.existsSync(path.join(dir, 'auth', 'creds.json')));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('ephemeral and view-once wrappers are unwrapped', () => {
  assert.deepEqual(unwrap({ ephemeralMessage: { message: { viewOnceMessageV2: { message: { conversation: 'x' } } } } }), { conversation: 'x' });
});
