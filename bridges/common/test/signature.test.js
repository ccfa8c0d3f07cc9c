import assert from 'node:assert/strict';
import { test } from 'node:test';
import { signBody } from '../src/signature.js';

// Shared test vector with the appliance (Rust) side.
test('signs the shared test vector exactly like the appliance', () => {
  assert.equal(
    signBody('bridge-secret', Buffer.from('{"id":"evt-1","type":"message"}')),
    'sha256=50aa14ef0b047c8e9e268db630434a2fe7ffdb98b976fb51ce4fb77b9a28d4b3',
  );
  assert.equal(signBody('bridge-secret', '{"id":"evt-1","type":"message"}'), signBody('bridge-secret', Buffer.from('{"id":"evt-1","type":"message"}')));
});
