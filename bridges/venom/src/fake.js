// A fake venom-bot: create() calls catchQR/statusFind like venom and resolves the client only
// after login; the client has onMessage/onAck/onStateChange with venom's Message/Ack shapes.
import fs from 'node:fs';
import path from 'node:path';
import { FakeRegistry, FAKE_ME, sentRecord } from '@dashoffice/bridge-common/fake';

const ACK = { failed: -1, sent: 1, delivered: 2, read: 3 };

class FakeVenom {
  constructor(options) {
    this.options = options;
    this.tokenDir = path.join(options.folderNameToken, options.session);
    this.handlers = { message: [], ack: [], state: [] };
    this.silent = false;
    this.closed = false;
    this.ready = new Promise((resolve) => { this.resolveReady = resolve; });
  }

  /** What venom.create() does: QR until logged in, then resolve with the client. */
  async create() {
    const { catchQR, statusFind, session } = this.options;
    statusFind?.('initBrowser', session);
    statusFind?.('openBrowser', session);
    statusFind?.('initWhatsapp', session);
    statusFind?.('successPageWhatsapp', session);
    if (fs.existsSync(this.tokenDir)) {
      statusFind?.('isLogged', session);
    } else {
      statusFind?.('notLogged', session);
      const urlCode = `2@fake-venom-qr,${Math.random().toString(36).slice(2)}`;
      catchQR?.('data:image/png;base64,iVBORw0KGgo=', '▄▄▄', 1, urlCode);
      await this.ready;
      statusFind?.('qrReadSuccess', session);
    }
    statusFind?.('waitChat', session);
    statusFind?.('successChat', session);
    return this;
  }

  onMessage(fn) { this.handlers.message.push(fn); return Promise.resolve({ dispose: () => {} }); }
  onAck(fn) { this.handlers.ack.push(fn); return Promise.resolve({ dispose: () => {} }); }
  onStateChange(fn) { this.handlers.state.push(fn); return Promise.resolve({ dispose: () => {} }); }
  emit(kind, v) { for (const fn of this.handlers[kind]) fn(v); }

  async getHostDevice() { return { id: { server: 'c.us', user: FAKE_ME, _serialized: `${FAKE_ME}@c.us` }, pushname: 'DashOffice Fake' }; }
  getConnectionState() { return this.silent ? new Promise(() => {}) : Promise.resolve(this.closed ? 'DISCONNECTED' : 'CONNECTED'); }
  isConnected() { return this.silent ? new Promise(() => {}) : Promise.resolve(!this.closed); }
  async useHere() { return true; }
  async logout() { fs.rmSync(this.tokenDir, { recursive: true, force: true }); return true; }
  async close() { this.closed = true; return true; }
  async decryptFile(m) { return Buffer.from(m.fakeData ?? '', 'base64'); }

  result(to, type, extra = {}) {
    const idPart = this.fakeNextId();
    const key = { fromMe: true, remote: to, id: idPart, _serialized: `true_${to}_${idPart}` };
    return { me: { id: `${FAKE_ME}@c.us` }, to: key, erro: false, text: null, status: 'OK', type, ...extra };
  }

  async sendText(to, content) {
    const r = this.result(to, 'sendText', { text: content });
    this.fakeSent.push(sentRecord({ id: r.to._serialized, to: to.split('@')[0], text: content }));
    return r;
  }

  sendMedia(to, uri, filename, caption, kind, type) {
    const r = this.result(to, type, { filename });
    const [, mime, b64] = /^data:([^;]+);base64,(.*)$/s.exec(uri) ?? [];
    this.fakeSent.push(sentRecord({ id: r.to._serialized, to: to.split('@')[0], kind, caption: caption || null, filename, mime, bytes: Buffer.from(b64 ?? '', 'base64').length }));
    return r;
  }

  async sendImage(to, uri, filename, caption) { return this.sendMedia(to, uri, filename, caption, 'image', 'image'); }
  async sendFile(to, uri, filename, caption) { return this.sendMedia(to, uri, filename, caption, 'document', 'document'); }
  async sendVoice(to, uri) { return this.sendMedia(to, uri, null, null, 'audio', 'ptt'); }
  async sendImageAsSticker(to, uri) { return this.sendMedia(to, uri, null, null, 'sticker', 'sticker'); }

  fakeScan() {
    fs.mkdirSync(this.tokenDir, { recursive: true });
    fs.writeFileSync(path.join(this.tokenDir, 'Default'), 'fake profile');
    this.resolveReady();
  }

  fakeInbound(spec) {
    const idPart = spec.id ?? `FAKE${this.fakeNextId()}`;
    const from = spec.group ? '120363025246125888@g.us' : spec.status ? 'status@broadcast' : `${spec.from}@c.us`;
    const fromMe = Boolean(spec.from_me);
    const m = {
      id: `${fromMe}_${from}_${idPart}`, body: '', type: 'chat', t: Math.floor(Date.now() / 1000),
      notifyName: spec.name ?? '', from, to: `${FAKE_ME}@c.us`, fromMe, isGroupMsg: Boolean(spec.group), isMedia: false,
      author: spec.group ? `${spec.from}@c.us` : undefined,
      sender: { id: from, pushname: spec.name ?? undefined, isMe: false },
      chatId: from,
    };
    if (spec.text !== undefined) m.body = spec.text;
    else if (spec.media) {
      const md = spec.media;
      Object.assign(m, { type: md.kind, isMedia: md.kind !== 'document', mimetype: md.mime_type, caption: md.caption, filename: md.filename, fakeData: md.data, size: Buffer.from(md.data ?? '', 'base64').length });
    } else if (spec.location) {
      const l = spec.location;
      Object.assign(m, { type: 'location', lat: l.latitude, lng: l.longitude, loc: [l.name, l.address].filter(Boolean).join('\n') });
    } else if (spec.button_reply) {
      Object.assign(m, { type: 'buttons_response', body: spec.button_reply.title, selectedButtonId: spec.button_reply.id });
    } else if (spec.list_reply) {
      const l = spec.list_reply;
      Object.assign(m, { type: 'list_response', body: l.title, listResponse: { title: l.title, description: l.description, singleSelectReply: { selectedRowId: l.id } } });
    } else {
      Object.assign(m, { type: 'vcard', body: 'BEGIN:VCARD\nEND:VCARD' });
    }
    this.emit('message', m);
    return m.id;
  }

  fakeAck(id, status) {
    const [, remote, idPart] = String(id).split('_');
    this.emit('ack', { id: { fromMe: true, remote, id: idPart, _serialized: id }, ack: ACK[status], body: '', type: 'chat', from: `${FAKE_ME}@c.us`, to: remote });
  }

  fakeSilence() { this.silent = true; }
  fakeRemoteLogout() { fs.rmSync(this.tokenDir, { recursive: true, force: true }); this.emit('state', 'UNPAIRED'); }
}

export function fakeFactory() {
  const registry = new FakeRegistry();
  return {
    control: (name) => registry.control(name),
    create: (options, name) => registry.attach(name, new FakeVenom(options)).create(),
  };
}
