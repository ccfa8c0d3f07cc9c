// The appliance's content JSON, checked and turned into what every library can send.

export class BadContent extends Error {}

const KINDS = ['image', 'video', 'audio', 'document', 'sticker'];
const isStr = (v) => typeof v === 'string';
const optStr = (v) => v === undefined || v === null || typeof v === 'string';

/** Validates the body of POST /sessions/{name}/messages; throws BadContent (-> 422). */
export function parseOutgoing(body) {
  if (!body || typeof body !== 'object') throw new BadContent('body must be a JSON object');
  const to = String(body.to ?? '').replace(/^\+/, '');
  if (!/^\d{5,20}$/.test(to)) throw new BadContent('to must be the phone number in digits');
  const c = body.content;
  if (!c || typeof c !== 'object') throw new BadContent('content is required');
  switch (c.type) {
    case 'text':
      if (!isStr(c.body) || !c.body) throw new BadContent('text.body is required');
      break;
    case 'media':
      if (!KINDS.includes(c.kind)) throw new BadContent('media.kind must be one of ' + KINDS.join('|'));
      if (!isStr(c.url) || !/^(https?:|data:)/.test(c.url)) throw new BadContent('media.url must be http(s) or data: URL');
      if (!optStr(c.caption) || !optStr(c.filename)) throw new BadContent('media.caption/filename must be strings');
      break;
    case 'buttons':
      if (!isStr(c.body) || !Array.isArray(c.buttons) || !c.buttons.length) throw new BadContent('buttons needs body and buttons');
      if (!c.buttons.every((b) => b && isStr(b.id) && isStr(b.title))) throw new BadContent('each button needs id and title');
      break;
    case 'list':
      if (!isStr(c.body) || !Array.isArray(c.sections) || !c.sections.length) throw new BadContent('list needs body and sections');
      if (!c.sections.every((s) => s && Array.isArray(s.rows) && s.rows.every((r) => r && isStr(r.id) && isStr(r.title)))) {
        throw new BadContent('each list row needs id and title');
      }
      break;
    case 'template':
      if (!isStr(c.name) || (c.params !== undefined && !Array.isArray(c.params))) throw new BadContent('template needs name and params');
      break;
    default:
      throw new BadContent('unknown content.type ' + JSON.stringify(c.type));
  }
  return { to, content: c };
}

/**
 * Buttons and lists as numbered text ("1. A\n2. B"): interactive messages do not reach
 * regular WhatsApp accounts through WhatsApp Web, so the bridges always degrade them.
 * The appliance's menu matching accepts the number or the title as the answer.
 */
export function toPlainText(c) {
  const parts = [];
  if (c.type === 'template') {
    const params = (c.params ?? []).map(String);
    return params.length ? params.join('\n') : c.name;
  }
  if (c.header) parts.push(c.header);
  parts.push(c.body);
  let options = [];
  if (c.type === 'buttons') options = c.buttons.map((b) => b.title);
  if (c.type === 'list') {
    let n = 0;
    const lines = [];
    for (const s of c.sections) {
      if (c.sections.length > 1 && s.title) lines.push(`*${s.title}*`);
      for (const r of s.rows) {
        n += 1;
        lines.push(`${n}. ${r.title}` + (r.description ? ` - ${r.description}` : ''));
      }
    }
    parts.push(lines.join('\n'));
  } else {
    parts.push(options.map((t, i) => `${i + 1}. ${t}`).join('\n'));
  }
  if (c.footer) parts.push(c.footer);
  return parts.filter(Boolean).join('\n\n');
}

/** '51987654321@c.us', '5198...:12@s.whatsapp.net' -> '51987654321'. */
export function jidUser(jid) {
  return String(jid ?? '').split('@')[0].split(':')[0];
}

export function isGroupOrBroadcast(jid) {
  const j = String(jid ?? '');
  return j.endsWith('@g.us') || j.endsWith('@broadcast') || j.endsWith('@newsletter') || j === 'status@broadcast';
}

const EXT_MIME = {
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif',
  mp4: 'video/mp4', '3gp': 'video/3gpp', mp3: 'audio/mpeg', ogg: 'audio/ogg', opus: 'audio/ogg',
  m4a: 'audio/mp4', aac: 'audio/aac', pdf: 'application/pdf', txt: 'text/plain',
};

/** Downloads outbound media (http(s) or data: URL) into memory, bounded by maxBytes. */
export async function fetchMedia(url, { maxBytes, timeoutMs = 30000 } = {}) {
  if (url.startsWith('data:')) {
    const m = /^data:([^;,]+)?(;base64)?,(.*)$/s.exec(url);
    if (!m) throw new BadContent('bad data: URL');
    const buffer = m[2] ? Buffer.from(m[3], 'base64') : Buffer.from(decodeURIComponent(m[3]));
    return { buffer, mime: m[1] || 'application/octet-stream', filename: null };
  }
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new MediaFetchError(`media download failed: HTTP ${res.status}`, res.status >= 500);
  const buffer = Buffer.from(await res.arrayBuffer());
  if (maxBytes && buffer.length > maxBytes) throw new BadContent('media too large');
  const name = decodeURIComponent(new URL(url).pathname.split('/').pop() || '') || null;
  const ext = name?.split('.').pop()?.toLowerCase();
  const header = res.headers.get('content-type')?.split(';')[0].trim();
  const mime = header && header !== 'application/octet-stream' ? header : (EXT_MIME[ext] ?? 'application/octet-stream');
  return { buffer, mime, filename: name };
}

export class MediaFetchError extends Error {
  constructor(msg, retriable) { super(msg); this.retriable = retriable; }
}

export function dataUrl(mime, buffer) {
  return `data:${mime || 'application/octet-stream'};base64,${Buffer.from(buffer).toString('base64')}`;
}

/** Builds the appliance's inbound media content. */
export function mediaContent({ kind, mime, buffer, caption, filename, inlineMax }) {
  const inline = buffer && buffer.length <= inlineMax;
  return {
    type: 'media', kind, media_id: null,
    url: inline ? dataUrl(mime, buffer) : null,
    mime_type: mime || 'application/octet-stream',
    caption: caption || null, filename: filename || null,
  };
}
