// Registry of fake library clients (BRIDGE_FAKE=1 and tests). Each fake client implements
// fakeScan/fakeInbound/fakeAck/fakeSilence/fakeRemoteLogout by emitting the library's own
// event shapes, so the adapter code under test is the production code.
export class FakeRegistry {
  constructor() { this.entries = new Map(); }

  entry(name) {
    let e = this.entries.get(name);
    if (!e) { e = { client: null, sent: [], seq: 0 }; this.entries.set(name, e); }
    return e;
  }

  /** Makes `client` the current fake of session `name`; sent messages survive reconnects. */
  attach(name, client) {
    const e = this.entry(name);
    e.client = client;
    client.fakeSent = e.sent;
    client.fakeNextId = () => `3EB0${String(++e.seq).padStart(6, '0')}${Math.random().toString(16).slice(2, 8).toUpperCase()}`;
    return client;
  }

  control(name) {
    const e = this.entries.get(name);
    if (!e?.client) return null;
    const c = e.client;
    return {
      sent: e.sent,
      scan: () => c.fakeScan(),
      inbound: (spec) => c.fakeInbound(normaliseInbound(spec)),
      ack: (id, status) => c.fakeAck(id, status),
      silence: () => c.fakeSilence(),
      remoteLogout: () => c.fakeRemoteLogout(),
    };
  }
}

const ME = '51900000001';
export const FAKE_ME = ME;

/** {from, text|media|location|button_reply|list_reply|unsupported, name} with defaults. */
function normaliseInbound(spec) {
  const from = String(spec.from ?? '51987654321').replace(/\D/g, '');
  return { ...spec, from, name: spec.name ?? null, id: spec.id ?? null };
}

/** A sent-message record without raw buffers, for GET /_fake/sessions/{name}/sent. */
export function sentRecord({ id, to, text = null, kind = 'text', caption = null, filename = null, mime = null, bytes = null }) {
  return { id, to, kind, text, caption, filename, mime_type: mime, bytes, at: new Date().toISOString() };
}
