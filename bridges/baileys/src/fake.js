// A fake Baileys socket that emits Baileys' real event shapes (connection.update,
// messages.upsert, messages.update, creds.update) and keeps "credentials" on disk.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { FakeRegistry, FAKE_ME, sentRecord } from '@dashoffice/bridge-common/fake';

const boom = (statusCode, message) => Object.assign(new Error(message), { isBoom: true, output: { statusCode, payload: { statusCode, message } } });
const STATUS = { failed: 0, sent: 2, delivered: 3, read: 4 };
const MEDIA_KEY = { image: 'imageMessage', video: 'videoMessage', audio: 'audioMessage', document: 'documentMessage', sticker: 'stickerMessage' };

const remoteJid = (spec) => (spec.group ? '120363025246125888@g.us' : spec.status ? 'status@broadcast' : `${spec.from}@s.whatsapp.net`);

class FakeSocket {
  constructor(opts, media) {
    this.ev = new EventEmitter();
    this.creds = opts.auth.creds;
    this.media = media;
    this.closed = false;
    this.silent = false;
    this.tag = 0;
    this.user = undefined;
    const self = this;
    this.ws = { get isOpen() { return !self.closed; } };
    setImmediate(() => {
      this.ev.emit('connection.update', { connection: 'connecting', receivedPendingNotifications: false });
      if (this.creds.registered) this.open();
      else this.ev.emit('connection.update', { qr: `2@fake-baileys-qr,${Math.random().toString(36).slice(2)},key=,adv=` });
    });
  }

  open() {
    this.user = { id: `${FAKE_ME}:7@s.whatsapp.net`, name: 'DashOffice Fake' };
    this.ev.emit('connection.update', { connection: 'open' });
  }

  close(code, message) {
    if (this.closed) return;
    this.closed = true;
    this.ev.emit('connection.update', { connection: 'close', lastDisconnect: { error: boom(code, message), date: new Date() } });
  }

  generateMessageTag() { return `fake.${++this.tag}`; }
  query() { return this.silent ? new Promise(() => {}) : Promise.resolve({ tag: 'iq', attrs: { type: 'result' } }); }
  async logout() { this.fakeLoggedOut = true; this.close(401, 'Intentional Logout'); }
  async end() { this.close(428, 'Connection Closed'); }

  async sendMessage(jid, content) {
    if (this.closed) throw boom(428, 'Connection Closed');
    const id = this.fakeNextId();
    const to = jid.split('@')[0];
    const kind = ['image', 'video', 'audio', 'document', 'sticker'].find((k) => content[k]) ?? 'text';
    const buf = kind === 'text' ? null : content[kind];
    this.fakeSent.push(sentRecord({
      id, to, kind, text: content.text ?? null, caption: content.caption ?? null,
      filename: content.fileName ?? null, mime: content.mimetype ?? null, bytes: buf?.length ?? null,
    }));
    return { key: { remoteJid: jid, fromMe: true, id }, message: {}, messageTimestamp: Math.floor(Date.now() / 1000), status: 1 };
  }

  // ---- controls used by /_fake endpoints and tests ----
  fakeScan() {
    // As in real life: pairing succeeds, creds are saved, then WhatsApp forces a restart (515).
    this.creds.registered = true;
    this.creds.me = { id: `${FAKE_ME}:7@s.whatsapp.net`, name: 'DashOffice Fake' };
    this.ev.emit('creds.update', { registered: true, me: this.creds.me });
    setImmediate(() => this.close(515, 'Stream Errored (restart required)'));
  }

  fakeInbound(spec) {
    const id = spec.id ?? `FAKE${this.fakeNextId()}`;
    const m = {
      key: { remoteJid: remoteJid(spec), fromMe: Boolean(spec.from_me), id, ...(spec.group ? { participant: `${spec.from}@s.whatsapp.net` } : {}) },
      messageTimestamp: Math.floor(Date.now() / 1000),
      pushName: spec.name ?? undefined,
      message: null,
    };
    if (spec.text !== undefined) m.message = { conversation: spec.text };
    else if (spec.media) {
      const md = spec.media;
      const buffer = Buffer.from(md.data ?? '', 'base64');
      this.media.set(id, buffer);
      m.message = { [MEDIA_KEY[md.kind]]: {
        url: 'https://mmg.whatsapp.net/fake', mimetype: md.mime_type, caption: md.caption ?? undefined,
        fileName: md.filename ?? undefined, fileLength: String(buffer.length), mediaKey: 'ZmFrZQ==', directPath: '/fake',
      } };
    } else if (spec.location) {
      const l = spec.location;
      m.message = { locationMessage: { degreesLatitude: l.latitude, degreesLongitude: l.longitude, name: l.name ?? undefined, address: l.address ?? undefined } };
    } else if (spec.button_reply) {
      m.message = { buttonsResponseMessage: { selectedButtonId: spec.button_reply.id, selectedDisplayText: spec.button_reply.title, type: 1 } };
    } else if (spec.list_reply) {
      const l = spec.list_reply;
      m.message = { listResponseMessage: { title: l.title, listType: 1, singleSelectReply: { selectedRowId: l.id }, description: l.description ?? undefined } };
    } else {
      m.message = { reactionMessage: { key: { remoteJid: m.key.remoteJid, fromMe: true, id: 'X' }, text: '👍' } };
    }
    this.ev.emit('messages.upsert', { messages: [m], type: 'notify' });
    return id;
  }

  fakeAck(id, status) {
    this.ev.emit('messages.update', [{ key: { remoteJid: 'x@s.whatsapp.net', id, fromMe: true }, update: { status: STATUS[status] } }]);
  }

  fakeSilence() { this.silent = true; } // socket still "open", but nothing answers
  fakeRemoteLogout() { this.close(401, 'Stream Errored (conflict)'); }
}

export function fakeFactory() {
  const registry = new FakeRegistry();
  const media = new Map();
  return {
    control: (name) => registry.control(name),
    makeSocket: (opts, name) => registry.attach(name, new FakeSocket(opts, media)),
    async useAuthState(dir) {
      const file = path.join(dir, 'creds.json');
      let creds = { registered: false };
      try { creds = JSON.parse(fs.readFileSync(file, 'utf8')); } catch {}
      return { state: { creds, keys: {} }, saveCreds: async () => {
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(file, JSON.stringify(creds));
      } };
    },
    downloadMedia: async (m) => {
      const b = media.get(m.key.id);
      if (!b) throw new Error('fake: no media');
      return b;
    },
  };
}
