// A fake whatsapp-web.js Client: an EventEmitter with initialize/getState/sendMessage/logout/
// destroy that emits the library's real events ('qr', 'authenticated', 'ready', 'message',
// 'message_ack', 'disconnected') with Message-shaped objects.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { FakeRegistry, FAKE_ME, sentRecord } from '@dashoffice/bridge-common/fake';

const ACK = { failed: -1, sent: 1, delivered: 2, read: 3 };

class FakeMessageMedia {
  constructor(mimetype, data, filename, filesize) { Object.assign(this, { mimetype, data, filename, filesize }); }
}

class FakeClient extends EventEmitter {
  constructor({ clientId, dataPath }) {
    super();
    // LocalAuth keeps the browser profile in <dataPath>/session-<clientId>.
    this.sessionDir = path.join(dataPath, `session-${clientId}`);
    this.silent = false;
    this.destroyed = false;
    this.info = null;
  }

  async initialize() {
    setImmediate(() => {
      if (fs.existsSync(this.sessionDir)) this.becomeReady();
      else this.emit('qr', `2@fake-wwebjs-qr,${Math.random().toString(36).slice(2)}`);
    });
  }

  becomeReady() {
    this.info = { wid: { server: 'c.us', user: FAKE_ME, _serialized: `${FAKE_ME}@c.us` }, pushname: 'DashOffice Fake', platform: 'android' };
    this.emit('authenticated');
    this.emit('ready');
  }

  async getState() { return this.silent ? new Promise(() => {}) : (this.destroyed ? null : 'CONNECTED'); }

  async sendMessage(chatId, content, options = {}) {
    const idPart = this.fakeNextId();
    const id = { fromMe: true, remote: chatId, id: idPart, _serialized: `true_${chatId}_${idPart}` };
    const media = content instanceof FakeMessageMedia ? content : null;
    this.fakeSent.push(sentRecord({
      id: id._serialized, to: chatId.split('@')[0],
      kind: media ? (options.sendMediaAsSticker ? 'sticker' : options.sendMediaAsDocument ? 'document' : media.mimetype.split('/')[0]) : 'text',
      text: media ? null : content, caption: options.caption ?? null, filename: media?.filename ?? null,
      mime: media?.mimetype ?? null, bytes: media ? Buffer.from(media.data, 'base64').length : null,
    }));
    return { id, ack: 0, body: media ? '' : content, fromMe: true, from: `${FAKE_ME}@c.us`, to: chatId, type: media ? 'image' : 'chat' };
  }

  async logout() { fs.rmSync(this.sessionDir, { recursive: true, force: true }); this.emit('disconnected', 'LOGOUT'); }
  async destroy() { this.destroyed = true; }

  fakeScan() {
    fs.mkdirSync(this.sessionDir, { recursive: true });
    fs.writeFileSync(path.join(this.sessionDir, 'Default'), 'fake profile');
    this.becomeReady();
  }

  fakeInbound(spec) {
    const idPart = spec.id ?? `FAKE${this.fakeNextId()}`;
    const from = spec.group ? '120363025246125888@g.us' : spec.status ? 'status@broadcast' : `${spec.from}@c.us`;
    const fromMe = Boolean(spec.from_me);
    const m = {
      id: { fromMe, remote: from, id: idPart, _serialized: `${fromMe}_${from}_${idPart}` },
      from, to: `${FAKE_ME}@c.us`, fromMe, isStatus: from === 'status@broadcast',
      author: spec.group ? `${spec.from}@c.us` : undefined, hasMedia: false, body: '', type: 'chat',
      timestamp: Math.floor(Date.now() / 1000), _data: { notifyName: spec.name ?? undefined },
      getContact: async () => ({ number: spec.from, pushname: spec.name }),
    };
    if (spec.text !== undefined) m.body = spec.text;
    else if (spec.media) {
      const md = spec.media;
      Object.assign(m, { type: md.kind, hasMedia: true, body: md.caption ?? '' });
      Object.assign(m._data, { mimetype: md.mime_type, filename: md.filename, caption: md.caption, size: Buffer.from(md.data ?? '', 'base64').length });
      m.downloadMedia = async () => new FakeMessageMedia(md.mime_type, md.data, md.filename ?? null, m._data.size);
    } else if (spec.location) {
      const l = spec.location;
      Object.assign(m, { type: 'location', body: '', location: { latitude: l.latitude, longitude: l.longitude, name: l.name, address: l.address, description: `${l.name}\n${l.address}` } });
    } else if (spec.button_reply) {
      Object.assign(m, { type: 'buttons_response', body: spec.button_reply.title, selectedButtonId: spec.button_reply.id });
    } else if (spec.list_reply) {
      const l = spec.list_reply;
      Object.assign(m, { type: 'list_response', body: l.title, selectedRowId: l.id });
      m._data.listResponse = { title: l.title, description: l.description, singleSelectReply: { selectedRowId: l.id } };
    } else {
      Object.assign(m, { type: 'vcard', body: 'BEGIN:VCARD\nEND:VCARD' });
    }
    this.emit('message', m);
    return m.id._serialized;
  }

  fakeAck(id, status) {
    const [, remote, idPart] = String(id).split('_');
    this.emit('message_ack', { id: { fromMe: true, remote, id: idPart, _serialized: id }, fromMe: true, ack: ACK[status] }, ACK[status]);
  }

  fakeSilence() { this.silent = true; }
  fakeRemoteLogout() { this.emit('disconnected', 'LOGOUT'); }
}

export function fakeFactory() {
  const registry = new FakeRegistry();
  return {
    MessageMedia: FakeMessageMedia,
    control: (name) => registry.control(name),
    createClient: (opts, name) => registry.attach(name, new FakeClient(opts)),
  };
}
