// Baileys (WhatsApp multi-device over a WebSocket, no browser) behind the bridge contract.
import {
  fetchMedia, isGroupOrBroadcast, jidUser, mediaContent, toPlainText,
} from '@dashoffice/bridge-common';

// DisconnectReason values of Baileys (lib/Types/index.d.ts).
const LOGGED_OUT = 401;
const FORBIDDEN = 403;
const CONNECTION_REPLACED = 440;
const BAD_SESSION = 500;
const RESTART_REQUIRED = 515;

// proto.WebMessageInfo.Status: ERROR 0, PENDING 1, SERVER_ACK 2, DELIVERY_ACK 3, READ 4, PLAYED 5.
const ACK_STATUS = { 0: 'failed', 2: 'sent', 3: 'delivered', 4: 'read', 5: 'read' };
const ACK_RANK = { sent: 1, delivered: 2, read: 3, failed: 4 };

const WRAPPERS = ['ephemeralMessage', 'viewOnceMessage', 'viewOnceMessageV2', 'viewOnceMessageV2Extension', 'documentWithCaptionMessage', 'editedMessage'];
const MEDIA = { imageMessage: 'image', videoMessage: 'video', audioMessage: 'audio', documentMessage: 'document', stickerMessage: 'sticker' };
const IGNORED = ['protocolMessage', 'senderKeyDistributionMessage', 'messageContextInfo'];

/** Removes ephemeral/view-once wrappers: the content sits in `.message` inside them. */
export function unwrap(message) {
  let m = message;
  for (let i = 0; i < 5 && m; i++) {
    const w = WRAPPERS.find((k) => m[k]?.message);
    if (!w) break;
    m = m[w].message;
  }
  return m;
}

/** A pino-shaped logger over the bridge logger (Baileys requires one). */
function pinoShim(log, level = 'warn') {
  const shim = {
    level,
    child: () => shim,
    trace: () => {}, debug: () => {}, info: () => {},
    warn: (o, m) => log.debug('baileys warn', { detail: m ?? (typeof o === 'string' ? o : undefined) }),
    error: (o, m) => log.warn('baileys error', { detail: m ?? String(o?.err ?? o) }),
    fatal: (o, m) => log.error('baileys fatal', { detail: m ?? String(o?.err ?? o) }),
  };
  return shim;
}

export class BaileysAdapter {
  constructor({ name, authDir, factory, config, log, events }) {
    Object.assign(this, { name, authDir, factory, config, log, events });
    this.sock = null;
    this.stopping = false;
    this.lidJids = new Map(); // digits we reported -> @lid jid to answer to
    this.acks = new Map(); // message id -> last reported status (never go backwards)
  }

  async start() {
    const { state, saveCreds } = await this.factory.useAuthState(this.authDir);
    if (this.stopping) return;
    const sock = this.factory.makeSocket({
      auth: state,
      logger: pinoShim(this.log),
      printQRInTerminal: false,
      markOnlineOnConnect: false,
      syncFullHistory: false,
      browser: ['DashOffice', 'Chrome', '1.0'],
    }, this.name);
    this.sock = sock;
    sock.ev.on('creds.update', saveCreds);
    sock.ev.on('connection.update', (u) => this.onConnection(u));
    sock.ev.on('messages.upsert', (u) => this.onUpsert(u).catch((err) => this.log.error('inbound failed', { err: String(err?.stack ?? err) })));
    sock.ev.on('messages.update', (u) => this.onUpdate(u));
  }

  onConnection({ connection, lastDisconnect, qr }) {
    if (this.stopping) return;
    if (qr) this.events.qr(qr);
    if (connection === 'open') this.events.connected(this.sock?.user?.id ?? null);
    if (connection !== 'close') return;
    const err = lastDisconnect?.error;
    const code = err?.output?.statusCode ?? err?.statusCode;
    const why = `${err?.message ?? 'connection closed'} (${code ?? 'no code'})`;
    if (code === LOGGED_OUT) return this.events.loggedOut(`logged out: ${why}`);
    if (code === BAD_SESSION) return this.events.loggedOut(`bad session, scan again: ${why}`);
    if (code === FORBIDDEN) return this.events.failed(`forbidden by WhatsApp: ${why}`);
    if (code === CONNECTION_REPLACED) return this.events.failed(`connection replaced by another client: ${why}`);
    // RESTART_REQUIRED comes right after pairing: a new socket is the documented answer.
    this.events.reconnect(code === RESTART_REQUIRED ? 'restart required after pairing' : why);
  }

  async onUpsert({ messages, type }) {
    if (type !== 'notify') return;
    for (const m of messages ?? []) {
      const out = await this.toInbound(m);
      if (out) this.events.message(out);
    }
  }

  /** WAMessage -> the contract's inbound message, or null when it is not for the appliance. */
  async toInbound(m) {
    const key = m?.key ?? {};
    const jid = key.remoteJid;
    if (!jid || key.fromMe || isGroupOrBroadcast(jid) || !m.message) return null;
    let from = jidUser(jid);
    if (jid.endsWith('@lid')) {
      const alt = [key.remoteJidAlt, key.senderPn].find((j) => j?.endsWith('@s.whatsapp.net'));
      if (alt) from = jidUser(alt);
      else this.lidJids.set(from, jid);
    }
    const content = await this.toContent(m, unwrap(m.message));
    if (!content) return null;
    return { id: key.id, from, name: m.pushName || null, content };
  }

  async toContent(m, msg) {
    if (!msg) return null;
    if (typeof msg.conversation === 'string' && msg.conversation) return { type: 'text', body: msg.conversation };
    if (msg.extendedTextMessage?.text != null) return { type: 'text', body: msg.extendedTextMessage.text };
    if (msg.buttonsResponseMessage) {
      const b = msg.buttonsResponseMessage;
      return { type: 'button_reply', id: b.selectedButtonId ?? '', title: b.selectedDisplayText ?? '' };
    }
    if (msg.templateButtonReplyMessage) {
      const b = msg.templateButtonReplyMessage;
      return { type: 'button_reply', id: b.selectedId ?? '', title: b.selectedDisplayText ?? '' };
    }
    if (msg.listResponseMessage) {
      const l = msg.listResponseMessage;
      return { type: 'list_reply', id: l.singleSelectReply?.selectedRowId ?? '', title: l.title ?? '', description: l.description || null };
    }
    if (msg.locationMessage || msg.liveLocationMessage) {
      const l = msg.locationMessage ?? msg.liveLocationMessage;
      return { type: 'location', latitude: l.degreesLatitude, longitude: l.degreesLongitude, name: l.name || null, address: l.address || null };
    }
    const mediaKey = Object.keys(MEDIA).find((k) => msg[k]);
    if (mediaKey) {
      const media = msg[mediaKey];
      const size = Number(media.fileLength ?? 0);
      let buffer = null;
      if (!size || size <= this.config.mediaInlineMaxBytes) {
        try {
          buffer = await this.factory.downloadMedia({ ...m, message: { [mediaKey]: media } }, this.sock);
        } catch (err) {
          this.log.warn('media download failed; delivering without data', { err: String(err) });
        }
      }
      return mediaContent({
        kind: MEDIA[mediaKey], mime: media.mimetype, buffer, caption: media.caption,
        filename: media.fileName, inlineMax: this.config.mediaInlineMaxBytes,
      });
    }
    const kinds = Object.keys(msg).filter((k) => !IGNORED.includes(k));
    if (!kinds.length) return null; // protocol/housekeeping only
    return { type: 'unsupported', kind: kinds[0].replace(/Message$/, '') };
  }

  onUpdate(updates) {
    for (const { key, update } of updates ?? []) {
      if (!key?.fromMe || update?.status === undefined || update.status === null) continue;
      const status = ACK_STATUS[update.status];
      if (!status) continue;
      const prev = this.acks.get(key.id);
      if (prev && ACK_RANK[prev] >= ACK_RANK[status]) continue;
      this.acks.set(key.id, status);
      if (this.acks.size > 5000) this.acks.delete(this.acks.keys().next().value);
      this.events.ack({ message_id: key.id, status, error: status === 'failed' ? 'WhatsApp reported an error' : null });
    }
  }

  jidFor(to) { return this.lidJids.get(to) ?? `${to}@s.whatsapp.net`; }

  async send(to, c) {
    const payload = await this.toPayload(c);
    const sent = await this.sock.sendMessage(this.jidFor(to), payload);
    const id = sent?.key?.id;
    if (!id) throw new Error('Baileys returned no message id');
    return id;
  }

  async toPayload(c) {
    if (c.type === 'text') return { text: c.body };
    if (c.type !== 'media') return { text: toPlainText(c) };
    const media = await fetchMedia(c.url, { maxBytes: this.config.mediaFetchMaxBytes });
    const caption = c.caption ?? undefined;
    switch (c.kind) {
      case 'image': return { image: media.buffer, mimetype: media.mime, caption };
      case 'video': return { video: media.buffer, mimetype: media.mime, caption };
      case 'audio': return { audio: media.buffer, mimetype: media.mime };
      case 'sticker': return { sticker: media.buffer };
      default: return { document: media.buffer, mimetype: media.mime, fileName: c.filename ?? media.filename ?? 'file', caption };
    }
  }

  /** Watchdog: the socket must be open and answer the same ping IQ Baileys uses for keep-alive. */
  async check() {
    const sock = this.sock;
    if (!sock?.ws?.isOpen) return false;
    await sock.query({
      tag: 'iq',
      attrs: { id: sock.generateMessageTag(), to: '@s.whatsapp.net', type: 'get', xmlns: 'w:p' },
      content: [{ tag: 'ping', attrs: {} }],
    }, this.config.watchdogTimeoutMs);
    return true;
  }

  async logout() {
    this.stopping = true;
    await this.sock?.logout();
  }

  async stop() {
    this.stopping = true;
    const sock = this.sock;
    this.sock = null;
    if (!sock) return;
    sock.ev.removeAllListeners?.('connection.update');
    await sock.end(undefined);
  }
}
