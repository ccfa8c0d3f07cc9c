import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadContent, fetchMedia, isGroupOrBroadcast, jidUser, parseOutgoing, toPlainText } from '../src/content.js';

test('numbered text keeps header, body, options and footer apart', () => {
  assert.equal(toPlainText({ type: 'buttons', body: 'B', header: 'H', footer: 'F', buttons: [{ id: 'a', title: 'A' }, { id: 'b', title: 'B' }] }),
    'H\n\nB\n\n1. A\n2. B\n\nF');
  assert.equal(toPlainText({ type: 'list', body: 'Menú', button: 'Ver', sections: [
    { title: 'S1', rows: [{ id: '1', title: 'x' }] }, { title: 'S2', rows: [{ id: '2', title: 'y', description: 'd' }] }] }),
  'Menú\n\n*S1*\n1. x\n*S2*\n2. y - d');
  assert.equal(toPlainText({ type: 'template', name: 'hello', language: 'es', params: [] }), 'hello');
});

test('outgoing bodies are checked before any library call', () => {
  assert.deepEqual(parseOutgoing({ to: '+51987654321', content: { type: 'text', body: 'x' } }).to, '51987654321');
  assert.throws(() => parseOutgoing({ to: '51987654321', content: { type: 'media', kind: 'gif', url: 'http://x' } }), BadContent);
  assert.throws(() => parseOutgoing({ to: '51987654321', content: { type: 'media', kind: 'image', url: 'file:///etc/passwd' } }), BadContent);
  assert.throws(() => parseOutgoing({ to: '51987654321', content: { type: 'buttons', body: 'x', buttons: [] } }), BadContent);
});

test('jids become digits; groups and broadcasts are recognised', () => {
  assert.equal(jidUser('51987654321@c.us'), '51987654321');
  assert.equal(jidUser('51987654321:12@s.whatsapp.net'), '51987654321');
  assert.ok(isGroupOrBroadcast('1203630@g.us'));
  assert.ok(isGroupOrBroadcast('status@broadcast'));
  assert.ok(!isGroupOrBroadcast('51987654321@s.whatsapp.net'));
});

test('data: URLs are accepted as outbound media', async () => {
  const m = await fetchMedia('data:image/png;base64,AAEC');
  assert.equal(m.mime, 'image/png');
  assert.deepEqual([...m.buffer], [0, 1, 2]);
});
