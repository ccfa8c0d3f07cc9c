// Simulator: chat with a bot through its sandbox; the real pipeline answers.
import { html, useState, useEffect, useRef } from '../lib.js';
import { t, time } from '../i18n.js';
import { get, post, del } from '../api.js';
import { useLoad, Loaded, Empty, Link, fail, useStickToEnd } from '../ui.js';
import { ContentView } from '../content.js';

const store = bot => `sim.${bot}`;

export function Simulator() {
  const bots = useLoad(() => get('/api/bots'), []);
  const [bot, setBot] = useState(localStorage.getItem('sim.bot') || '');
  const [log, setLog] = useState([]);
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const input = useRef();
  const list = bots.data || [];
  const current = list.find(b => b.id === bot) || list[0];

  useEffect(() => {
    if (!current) return;
    setLog(JSON.parse(sessionStorage.getItem(store(current.id)) || '[]'));
  }, [current?.id]);
  useEffect(() => {
    if (current) sessionStorage.setItem(store(current.id), JSON.stringify(log.slice(-200)));
  }, [log]);
  const box = useStickToEnd(log.length + (busy ? 1 : 0));

  const say = async (body, label) => {
    if (!current || busy) return;
    const now = new Date().toISOString();
    setLog(l => [...l, { dir: 'in', c: { type: 'text', body: label || body.text }, at: now }]);
    setBusy(true);
    try {
      const r = await post(`/api/bots/${current.id}/sandbox`, body);
      setLog(l => [...l, ...r.replies.map(c => ({ dir: 'out', c, at: new Date().toISOString() }))]);
    } catch (e) { fail(e); } finally { setBusy(false); input.current?.focus(); }
  };
  const submit = e => {
    e.preventDefault();
    const v = text.trim();
    if (!v) return;
    setText('');
    say({ text: v });
  };
  const reset = async () => {
    try { await del(`/api/bots/${current.id}/sandbox`); } catch (e) { if (!e.unavailable) fail(e); }
    setLog([]);
  };
  const lastOut = log.map(m => m.dir).lastIndexOf('out');

  return html`<div>
    <h1>${t('nav_simulator')}</h1>
    <p class="muted">${t('sim_help')}</p>
    <${Loaded} st=${bots} what="/api/bots">${() => !list.length
      ? html`<div class="panel"><${Empty} title=${t('no_bots_sim')}><${Link} href="/bots">${t('new_bot')}<//><//></div>`
      : html`
      <div class="toolbar">
        <div class="field"><label for="sim-bot">${t('flows_pick_bot')}</label>
          <select id="sim-bot" value=${current.id} onChange=${e => { localStorage.setItem('sim.bot', e.target.value); setBot(e.target.value); }}>
            ${list.map(b => html`<option value=${b.id}>${b.name}</option>`)}
          </select></div>
        <button type="button" onClick=${reset} id="sim-reset">${t('sim_reset')}</button>
      </div>
      <section class="chat" aria-label=${t('nav_simulator')}>
        <div class="msgs" role="log" aria-live="polite" id="sim-log" ref=${box}>
          ${!log.length && html`<${Empty}>${t('sim_empty')}<//>`}
          ${log.map((m, i) => html`<div class="bubble ${m.dir === 'in' ? 'out' : ''}" data-dir=${m.dir === 'in' ? 'customer' : 'bot'}>
            <${ContentView} c=${m.c} onPick=${i === lastOut || (m.dir === 'out' && i >= lastOut - 3) ? (id, title) => say({ button_id: id, title }, title) : null} disabled=${busy} />
            <div class="meta">${time(m.at)}</div></div>`)}
          ${busy && html`<div class="bubble muted" aria-label=${t('loading')}>…</div>`}
        </div>
        <form class="composer" onSubmit=${submit}>
          <label class="sr-only" for="sim-text">${t('type_message')}</label>
          <input id="sim-text" ref=${input} autocomplete="off" placeholder=${t('type_message')} value=${text} onInput=${e => setText(e.target.value)} />
          <button class="primary" type="submit" disabled=${busy || !text.trim()}>${t('send')}</button>
        </form>
      </section>`}<//>
  </div>`;
}

export const pages = { simulator: Simulator };
