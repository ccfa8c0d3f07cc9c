// whatsapp-web.js (drives WhatsApp Web in the system Chromium) behind the bridge contract.
import {
  fetchMedia, isGroupOrBroadcast, jidUser, mediaContent, toPlainText,
} from '@dashoffice/bridge-common';

// MessageAck: ACK_ERROR -1, ACK_PENDING 0, ACK_SERVER 1, ACK_DEVICE 2, ACK_READ 3, ACK_PLAYED 4.
const ACK_STATUS = { '-1': 'failed', 1: 'sent', 2: 'delivered', 3: 'read', 4: 'read' };
const ACK_RANK = { sent: 1, delivered: 2, read: 3, failed: 4 };
const MEDIA = { image: 'image', video: 'video', audio: 'audio', ptt: 'audio', document: 'document', sticker: 'sticker' };
// 'disconnected' reasons that mean the phone unlinked us (WAState, or 'LOGOUT').
const LOGGED_OUT = ['LOGOUT', 'UNPAIRED', 'UNPAIRED_IDLE'];
const IGNORED_TYPES = ['e2e_notification', 'notification_template', 'gp2', 'protocol', 'ciphertext', 'revoked', 'call_log'];

export class WwebjsAdapter {
  constructor({ name, authDir, factory, config, log, events }) {
    Object.assign(this, { name, authDir, factory, config, log, events });
    this.client = null;
    this.stopping = false;
    this.lidJids = new Map();
    this.acks = new Map();
  }

  async start() {
    const client = this.factory.createClient({
      clientId: this.name, dataPath: this.authDir, executablePath: this.config.chromiumPath,
    }, this.name);
    this.client = client;
    client.on('qr', (qr) => !this.stopping && this.events.qr(qr));
    client.on('ready', () => !this.stopping && this.events.connected(client.info?.wid?._serialized ?? null));
    client.on('auth_failure', (msg) => !this.stopping && this.events.loggedOut(`auth failure: ${msg}`));
    client.on('disconnected', (reason) => {
      if (this.stopping) return;
      if (LOGGED_OUT.includes(reason)) this.events.loggedOut(`logged out (${reason})`);
      else this.events.reconnect(`disconnected (${reason})`);
    });
    client.on('change_state', (s) => this.log.debug('wwebjs state', { state: s }));
    client.on('message', (m) => {
      this.toInbound(m).then((out) => out && !this.stopping && this.events.message(out))
        .catch((err) => this.log.error('inbound failed', { err: String(err?.stack ?? err) }));
    });
    client.on('message_ack', (m, ack) => this.onAck(m, ack));
    await client.initialize();
  }

  async toInbound(m) {
    if (!m || m.fromMe || m.id?.fromMe || m.isStatus || isGroupOrBroadcast(m.from)) return null;
    if (IGNORED_TYPES.includes(m.type)) return null;
    let from = jidUser(m.from);
    if (String(m.from).endsWith('@lid')) {
      const number = await m.getContact?.().then((c) => c?.number).catch(() => null);
      if (number) from = String(number).replace(/\D/g, '');
      else this.lidJids.set(from, m.from);
    }
    const content = await this.toContent(m);
    if (!content) return null;
    return { id: m.id?._serialized ?? m.id?.id, from, name: m._data?.notifyName || null, content };
  }

  async toContent(m) {
    switch (m.type) {
      case 'chat': return { type: 'text', body: m.body ?? '' };
      case 'buttons_response':
      case 'template_button_reply':
        return { type: 'button_reply', id: m.selectedButtonId ?? '', title: m.body ?? '' };
      case 'list_response':
        return { type: 'list_reply', id: m.selectedRowId ?? '', title: m.body ?? '', description: m._data?.listResponse?.description || null };
      case 'location': {
        const l = m.location ?? {};
        return { type: 'location', latitude: Number(l.latitude), longitude: Number(l.longitude), name: l.name || null, address: l.address || null };
      }
      default: break;
    }
    if (MEDIA[m.type] && m.hasMedia) {
      let media = null;
      const size = Number(m._data?.size ?? 0);
      if (!size || size <= this.config.mediaInlineMaxBytes) {
        media = await m.downloadMedia().catch((err) => { this.log.warn('media download failed', { err: String(err) }); return null; });
      }
      const buffer = media?.data ? Buffer.from(media.data, 'base64') : null;
      return mediaContent({
        kind: MEDIA[m.type], mime: media?.mimetype ?? m._data?.mimetype, buffer,
        caption: m.body || null, // whatsapp-web.js puts a media message's caption in body
        filename: media?.filename ?? m._data?.filename ?? null, inlineMax: this.config.mediaInlineMaxBytes,
      });
    }
    return { type: 'unsupported', kind: String(m.type ?? 'unknown') };
  }

  onAck(m, ack) {
    if (this.stopping || !(m?.fromMe ?? m?.id?.fromMe)) return;
    const status = ACK_STATUS[ack];
    if (!status) return;
    const id = m.id._serialized;
    const prev = this.acks.get(id);
    if (prev && ACK_RANK[prev] >= ACK_RANK[status]) return;
    this.acks.set(id, status);
    if (this.acks.size > 5000) this.acks.delete(this.acks.keys().next().value);
    this.events.ack({ message_id: id, status, error: status === 'failed' ? 'WhatsApp reported ACK_ERROR' : null });
  }

  chatId(to) { return this.lidJids.get(to) ?? `${to}@c.us`; }

  async send(to, c) {
    let sent;
    if (c.type === 'media') {
      const media = await fetchMedia(c.url, { maxBytes: this.config.mediaFetchMaxBytes });
      const mm = new this.factory.MessageMedia(media.mime, media.buffer.toString('base64'), c.filename ?? media.filename ?? null, media.buffer.length);
      sent = await this.client.sendMessage(this.chatId(to), mm, {
        caption: c.kind === 'audio' || c.kind === 'sticker' ? undefined : (c.caption ?? undefined),
        sendMediaAsDocument: c.kind === 'document',
        sendMediaAsSticker: c.kind === 'sticker',
      });
    } else {
      const text = c.type === 'text' ? c.body : toPlainText(c);
      sent = await this.client.sendMessage(this.chatId(to), text, { linkPreview: false });
    }
    const id = sent?.id?._serialized;
    if (!id) throw new Error('whatsapp-web.js returned no message id');
    return id;
  }

  /** Watchdog: WhatsApp Web's own socket state must still be CONNECTED. */
  async check() {
    return (await this.client?.getState()) === 'CONNECTED';
  }

  async logout() {
    this.stopping = true;
    await this.client?.logout();
  }

  async stop() {
    this.stopping = true;
    const c = this.client;
    this.client = null;
    await c?.destroy();
  }
}
