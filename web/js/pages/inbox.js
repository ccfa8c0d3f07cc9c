// Inbox: conversations and messages, live over Server-Sent Events; agents take over,
// reply, give back to the bot, close and reset.
import { html, useState, useEffect, useRef } from '../lib.js';
import { t, date, time } from '../i18n.js';
import { get, post, qs, token } from '../api.js';
import { useLoad, Loaded, Empty, Pill, navigate, useAction, toast, useActor, useStickToEnd } from '../ui.js';
import { ContentView, textOf } from '../content.js';

/**
 * Subscribes to /api/events (Server-Sent Events) and reconnects with a fresh token.
 * Read with fetch rather than EventSource so the token travels in the Authorization
 * header (not in the URL, where logs keep it). Returns whether the stream is live.
 */
function useEvents(onEvent) {
  const [live, setLive] = useState(false);
  const cb = useRef(onEvent);
  cb.current = onEvent;
  useEffect(() => {
    let stopped = false, timer;
    const ctrl = new AbortController();
    const dispatch = block => {
      let kind = 'message', data = '';
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith('event:')) kind = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trim();
      }
      if (!data) return;
      let d = {};
      try { d = JSON.parse(data); } catch { /* keep {} */ }
      cb.current(kind, d);
    };
    const open = async () => {
      try {
        const tk = await token();
        const res = await fetch('/api/events', { headers: { Authorization: `Bearer ${tk}`, Accept: 'text/event-stream' }, signal: ctrl.signal });
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        setLive(true);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i).replace(/^\r?\n\r?\n/, '');
            dispatch(block);
          }
        }
      } catch { /* reconnect below */ }
      setLive(false);
      if (!stopped) timer = setTimeout(open, 3000);
    };
    open();
    return () => { stopped = true; clearTimeout(timer); ctrl.abort(); };
  }, []);
  return live;
}

function Conversation({ id, onChanged }) {
  const conv = useLoad(() => get(`/api/conversations/${id}`), [id]);
  // Newest page on load and on live events; "earlier" pages are kept in front of it.
  const [older, setOlder] = useState({ items: [], before: undefined });
  const msgs = useLoad(async () => {
    const r = await get(`/api/conversations/${id}/messages?limit=100`);
    setOlder(o => (o.before === undefined ? { items: [], before: r.next_before } : o));
    return r.items.slice().reverse();
  }, [id]);
  const earlier = async () => {
    const r = await get(`/api/conversations/${id}/messages` + qs({ limit: 100, before: older.before }));
    setOlder(o => ({ items: [...r.items.slice().reverse(), ...o.items], before: r.next_before }));
  };
  const [text, setText] = useState('');
  const [busy, run] = useAction();
  const author = useActor();
  const box = useStickToEnd(msgs.data);
  useEffect(() => { post(`/api/conversations/${id}/read`).then(onChanged, () => {}); }, [id]);
  Conversation.reload = () => { conv.reload(true); msgs.reload(true); };
  const act = (action, msg) => run(async () => {
    const c = await post(`/api/conversations/${id}/${action}`);
    conv.set(c);
    onChanged();
    if (msg) toast(msg);
  });
  const send = e => {
    e.preventDefault();
    const body = text.trim();
    if (!body) return;
    run(async () => {
      await post(`/api/conversations/${id}/messages`, { content: { type: 'text', body } });
      setText('');
      msgs.reload(true);
    });
  };
  const c = conv.data;
  return html`<section class="chat" aria-label=${c ? c.contact_name || c.contact_phone : ''}>
    <div class="chat-head spread">
      <div>
        <button class="small link only-sm" onClick=${() => navigate('/inbox')}>← ${t('back')}</button>
        <strong>${c?.contact_name || c?.contact_phone}</strong> ${c && html`<span class="muted">${c.contact_phone}</span> <${Pill} kind=${c.status}>${t('st_' + c.status)}<//>`}
      </div>
      ${c && html`<div class="row">
        ${c.status !== 'human' && html`<button class="primary small" id="take-over" disabled=${busy} onClick=${() => act('assign')}>${t('take_over')}</button>`}
        ${c.status === 'human' && html`<button class="small" id="release" disabled=${busy} onClick=${() => act('release')}>${t('release')}</button>`}
        <button class="small" disabled=${busy} onClick=${() => act('reset')}>${t('reset_conv')}</button>
        ${c.status !== 'closed' && html`<button class="small" disabled=${busy} onClick=${() => act('close')}>${t('close_conv')}</button>`}
      </div>`}
    </div>
    <div class="msgs" role="log" aria-live="polite" id="conv-log" ref=${box}>
      ${older.before && html`<button class="small" onClick=${earlier}>${t('earlier')}</button>`}
      <${Loaded} st=${msgs}>${() => [...older.items.filter(o => !msgs.data.some(m => m.id === o.id)), ...msgs.data].map(m => html`<div class="bubble ${m.direction === 'out' ? 'out' : ''}">
        <${ContentView} c=${m.content} />
        <div class="meta">${m.direction === 'out' && m.author ? `${author(m.author)} · ` : ''}${time(m.created_at)}${m.direction === 'out' ? ` · ${m.status}` : ''}${m.error ? ` · ${m.error}` : ''}</div>
      </div>`)}<//>
    </div>
    <form class="composer" onSubmit=${send}>
      <label class="sr-only" for="reply">${t('type_message')}</label>
      <input id="reply" autocomplete="off" disabled=${c?.status !== 'human'} placeholder=${c?.status === 'human' ? t('type_message') : t('reply_disabled')} value=${text} onInput=${e => setText(e.target.value)} />
      <button class="primary" type="submit" disabled=${busy || c?.status !== 'human' || !text.trim()}>${t('send')}</button>
    </form>
  </section>`;
}

export function Inbox({ args }) {
  const selected = args[0];
  const [status, setStatus] = useState('');
  const [unread, setUnread] = useState(false);
  const [bot, setBot] = useState('');
  const bots = useLoad(() => get('/api/bots').catch(() => []), []);
  const [pages, setPages] = useState({ items: [], before: null });
  const list = useLoad(async () => {
    const r = await get('/api/conversations' + qs({ status, bot, unread: unread ? 'true' : '' }));
    setPages(p => (p.key === `${status}|${bot}|${unread}` ? p : { items: [], before: r.next_before, key: `${status}|${bot}|${unread}` }));
    return r;
  }, [status, unread, bot]);
  const more = async () => {
    const r = await get('/api/conversations' + qs({ status, bot, unread: unread ? 'true' : '', before: pages.before }));
    setPages(p => ({ ...p, items: [...p.items, ...r.items], before: r.next_before }));
  };
  const pending = useRef(null);
  const live = useEvents((kind, d) => {
    clearTimeout(pending.current);
    pending.current = setTimeout(() => list.reload(true), 250);
    const cid = d.conversation_id || d.id;
    if (selected && (cid === selected || kind === 'resync')) Conversation.reload?.();
  });
  const first = list.data?.items || [];
  const items = [...first, ...pages.items.filter(c => !first.some(f => f.id === c.id))];
  return html`<div>
    <div class="spread"><h1>${t('nav_inbox')}</h1>
      <span class="muted small-text" id="live-state">${live ? '● ' + t('live') : '○ ' + t('offline')}</span></div>
    <div class="split ${selected ? 'detail-open' : ''}">
      <div>
        <div class="toolbar">
          <div class="field"><label for="conv-status">${t('status')}</label>
            <select id="conv-status" value=${status} onChange=${e => setStatus(e.target.value)}>
              <option value="">${t('all')}</option>
              ${['bot', 'human', 'closed'].map(s => html`<option value=${s}>${t('st_' + s)}</option>`)}
            </select></div>
          ${(bots.data || []).length > 1 && html`<div class="field"><label for="conv-bot">${t('nav_bots')}</label>
            <select id="conv-bot" value=${bot} onChange=${e => setBot(e.target.value)}><option value="">${t('all')}</option>
              ${bots.data.map(b => html`<option value=${b.id}>${b.name}</option>`)}</select></div>`}
          <label class="check"><input type="checkbox" checked=${unread} onChange=${e => setUnread(e.target.checked)} /> ${t('only_unread')}</label>
        </div>
        <${Loaded} st=${list} what="/api/conversations">${() => !items.length
          ? html`<div class="panel"><${Empty}>${t('inbox_empty')}<//></div>`
          : html`<div class="list" role="list" id="conv-list">${items.map(c => html`
            <button class="item" role="listitem" aria-current=${c.id === selected ? 'true' : 'false'} data-conv=${c.id} onClick=${() => navigate(`/inbox/${c.id}`)}>
              <div class="top"><span class="name">${c.contact_name || c.contact_phone}</span><span class="muted small-text nowrap">${date(c.last_message_at, { timeStyle: 'short', dateStyle: 'short' })}</span></div>
              <div class="top"><span class="prev">${textOf(c.last_message_preview)}</span>
                <span>${c.unread > 0 && html`<span class="unread" aria-label="unread">${c.unread}</span>`} <${Pill} kind=${c.status}>${t('st_' + c.status)}<//></span></div>
            </button>`)}</div>
            ${pages.before && html`<p><button onClick=${more}>${t('more')}</button></p>`}`}<//>
      </div>
      <div>${selected ? html`<${Conversation} id=${selected} key=${selected} onChanged=${() => list.reload(true)} />` : html`<div class="panel hide-sm"><${Empty}>${t('pick_conversation')}<//></div>`}</div>
    </div>
  </div>`;
}

export const pages = { inbox: Inbox };
