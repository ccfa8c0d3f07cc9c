// venom-bot (WhatsApp Web in the system Chromium) behind the bridge contract.
import {
  dataUrl, fetchMedia, isGroupOrBroadcast, jidUser, mediaContent, toPlainText,
} from '@dashoffice/bridge-common';

// AckType: FAILED -1 (and -2..-7 for other errors), CLOCK 0, SENT 1, RECEIVED 2, READ 3, PLAYED 4.
const ackStatus = (n) => (n < 0 ? 'failed' : { 1: 'sent', 2: 'delivered', 3: 'read', 4: 'read' }[n]);
const ACK_RANK = { sent: 1, delivered: 2, read: 3, failed: 4 };
const MEDIA = { image: 'image', video: 'video', audio: 'audio', ptt: 'audio', document: 'document', sticker: 'sticker' };
const LOGGED_OUT_STATES = ['UNPAIRED', 'UNPAIRED_IDLE'];
const LOGGED_OUT_STATUS = ['desconnectedMobile', 'deleteToken'];
const RESTART_STATUS = ['browserClose', 'serverClose', 'noOpenBrowser', 'erroPageWhatsapp', 'autocloseCalled', 'qrReadFail'];
const IGNORED_TYPES = ['e2e_notification', 'notification_template', 'gp2', 'protocol', 'ciphertext', 'revoked', 'call_log'];

/** Message id out of venom's send results ({to: MsgKey, erro, ...}) or a message. */
function idFrom(r) {
  const k = r?.to?._serialized ? r.to : r?.id;
  return typeof k === 'string' ? k : k?._serialized ?? null;
}

export class VenomAdapter {
  constructor({ name, authDir, factory, config, log, events }) {
    Object.assign(this, { name, authDir, factory, config, log, events });
    this.client = null;
    this.stopping = false;
    this.lidJids = new Map();
    this.acks = new Map();
  }

  async start() {
    // create() resolves only once WhatsApp Web is logged in (after the QR scan).
    const client = await this.factory.create({
      session: this.name,
      folderNameToken: this.authDir, // absolute: tokens live in <authDir>/<session>
      mkdirFolderToken: '',
      headless: 'new',
      browserPathExecutable: this.config.chromiumPath ?? undefined,
      browserArgs: ['--no-sandbox', '--disable-setuid-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
      autoClose: 0,
      disableSpins: true,
      disableWelcome: true,
      logQR: false,
      updatesLog: false,
      catchQR: (base64Qr, asciiQR, attempt, urlCode) => !this.stopping && this.events.qr(urlCode || base64Qr),
      statusFind: (status) => this.onStatus(status),
    }, this.name);
    if (this.stopping) { await client.close?.().catch(() => {}); return; }
    this.client = client;
    client.onMessage((m) => {
      this.toInbound(m).then((out) => out && !this.stopping && this.events.message(out))
        .catch((err) => this.log.error('inbound failed', { err: String(err?.stack ?? err) }));
    });
    client.onAck((a) => this.onAck(a));
    client.onStateChange((s) => this.onState(s));
    const host = await client.getHostDevice().catch(() => null);
    this.events.connected(host?.id?._serialized ?? host?.wid?._serialized ?? (typeof host?.id === 'string' ? host.id : null));
  }

  onStatus(status) {
    this.log.debug('venom status', { status });
    if (this.stopping) return;
    if (LOGGED_OUT_STATUS.includes(status)) this.events.loggedOut(`logged out (${status})`);
    else if (RESTART_STATUS.includes(status)) this.events.reconnect(`venom: ${status}`);
  }

  onState(state) {
    if (this.stopping) return;
    if (state === 'CONFLICT') this.client?.useHere?.().catch(() => {}); // opened elsewhere: take it back
    else if (LOGGED_OUT_STATES.includes(state)) this.events.loggedOut(`logged out (${state})`);
  }

  async toInbound(m) {
    if (!m || m.fromMe || m.isGroupMsg || isGroupOrBroadcast(m.from) || IGNORED_TYPES.includes(m.type)) return null;
    let from = jidUser(m.from);
    if (String(m.from).endsWith('@lid')) this.lidJids.set(from, m.from);
    const content = await this.toContent(m);
    if (!content) return null;
    const id = typeof m.id === 'string' ? m.id : m.id?._serialized;
    return { id, from, name: m.sender?.pushname || m.notifyName || null, content };
  }

  async toContent(m) {
    switch (m.type) {
      case 'chat': return { type: 'text', body: m.body ?? '' };
      case 'buttons_response':
      case 'template_button_reply':
        return { type: 'button_reply', id: m.selectedButtonId ?? m.selectedId ?? '', title: m.body ?? '' };
      case 'list_response':
        return { type: 'list_reply', id: m.listResponse?.singleSelectReply?.selectedRowId ?? '', title: m.listResponse?.title ?? m.body ?? '', description: m.listResponse?.description || null };
      case 'location': {
        const [name, address] = String(m.loc ?? '').split('\n');
        return { type: 'location', latitude: Number(m.lat), longitude: Number(m.lng), name: name || null, address: address || null };
      }
      default: break;
    }
    if (MEDIA[m.type] && (m.isMedia || m.mimetype)) {
      let buffer = null;
      if (!m.size || m.size <= this.config.mediaInlineMaxBytes) {
        buffer = await this.client.decryptFile(m).catch((err) => { this.log.warn('media download failed', { err: String(err) }); return null; });
      }
      return mediaContent({
        kind: MEDIA[m.type], mime: m.mimetype, buffer, caption: m.caption || null,
        filename: m.filename || null, inlineMax: this.config.mediaInlineMaxBytes,
      });
    }
    return { type: 'unsupported', kind: String(m.type ?? 'unknown') };
  }

  onAck(a) {
    if (this.stopping || !a?.id?.fromMe) return;
    const status = ackStatus(a.ack);
    if (!status) return;
    const id = a.id._serialized;
    const prev = this.acks.get(id);
    if (prev && ACK_RANK[prev] >= ACK_RANK[status]) return;
    this.acks.set(id, status);
    if (this.acks.size > 5000) this.acks.delete(this.acks.keys().next().value);
    this.events.ack({ message_id: id, status, error: status === 'failed' ? `WhatsApp ack ${a.ack}` : null });
  }

  chatId(to) { return this.lidJids.get(to) ?? `${to}@c.us`; }

  async send(to, c) {
    const chat = this.chatId(to);
    let r;
    if (c.type === 'media') {
      const media = await fetchMedia(c.url, { maxBytes: this.config.mediaFetchMaxBytes });
      const uri = dataUrl(media.mime, media.buffer);
      const filename = c.filename ?? media.filename ?? 'file';
      if (c.kind === 'image') r = await this.client.sendImage(chat, uri, filename, c.caption ?? '');
      else if (c.kind === 'sticker') r = await this.client.sendImageAsSticker(chat, uri);
      else if (c.kind === 'audio') r = await this.client.sendVoice(chat, uri);
      else r = await this.client.sendFile(chat, uri, filename, c.caption ?? '');
    } else {
      r = await this.client.sendText(chat, c.type === 'text' ? c.body : toPlainText(c));
    }
    if (r?.erro) throw new Error(`venom: ${r.text ?? 'send failed'} (${r.status ?? ''})`);
    const id = idFrom(r);
    if (!id) throw new Error('venom returned no message id');
    return id;
  }

  /** Watchdog: the page must report the socket CONNECTED. */
  async check() {
    if (!this.client) return false;
    return (await this.client.getConnectionState()) === 'CONNECTED' && (await this.client.isConnected()) === true;
  }

  async logout() {
    this.stopping = true;
    await this.client?.logout();
  }

  async stop() {
    this.stopping = true;
    const c = this.client;
    this.client = null;
    await c?.close();
  }
}
