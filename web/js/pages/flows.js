// Flows: list per bot; JSON editor with the API's validation errors shown at each node,
// a read-only graph, publish, versions and rollback.
import { html, useState, useMemo, useEffect } from '../lib.js';
import { t, date } from '../i18n.js';
import { get, post, put, del, ApiError } from '../api.js';
import { useLoad, Loaded, Empty, Pill, Link, navigate, useAction, toast, fail, Modal, Field } from '../ui.js';

const EXAMPLE = {
  start: 'hola',
  triggers: [{ type: 'keyword', words: ['hola'] }],
  nodes: {
    hola: { type: 'message', text: '¡Hola {{ contact.name }}! 👋', next: 'menu' },
    menu: {
      type: 'menu', text: '¿Qué necesitas?', button: 'Opciones',
      options: [
        { id: 'catalogo', title: 'Ver catálogo', next: 'catalogo' },
        { id: 'persona', title: 'Hablar con alguien', next: 'agente' },
      ],
    },
    catalogo: { type: 'catalog', text: 'Nuestras categorías', next: 'fin' },
    agente: { type: 'handoff', text: 'Te comunico con una persona.' },
    fin: { type: 'end', text: '¡Gracias!' },
  },
};

/** Edges of a flow definition: [from, to, label]. */
export function edges(def) {
  const out = [];
  for (const [id, n] of Object.entries(def?.nodes || {})) {
    if (!n || typeof n !== 'object') continue;
    for (const k of ['next', 'on_fail', 'on_error', 'on_empty', 'on_not_found', 'else']) if (typeof n[k] === 'string') out.push([id, n[k], k === 'next' ? '' : k]);
    for (const o of n.options || []) if (o?.next) out.push([id, o.next, o.title || o.id]);
    for (const b of n.branches || []) if (b?.next) out.push([id, b.next, b.when]);
    if (n.type === 'goto' && n.node && !n.flow) out.push([id, n.node, 'goto']);
  }
  return out;
}

/** Layered top-down layout: depth from the start node, unreachable nodes last. */
function Graph({ def, bad }) {
  const g = useMemo(() => {
    const ids = Object.keys(def?.nodes || {});
    const es = edges(def).filter(([, to]) => ids.includes(to));
    const depth = {};
    const queue = def?.start && ids.includes(def.start) ? [def.start] : [];
    if (queue.length) depth[def.start] = 0;
    while (queue.length) {
      const n = queue.shift();
      for (const [from, to] of es) if (from === n && depth[to] === undefined) { depth[to] = depth[n] + 1; queue.push(to); }
    }
    const maxD = Math.max(-1, ...Object.values(depth));
    for (const id of ids) if (depth[id] === undefined) depth[id] = maxD + 1;
    const layers = [];
    for (const id of ids) (layers[depth[id]] ||= []).push(id);
    const W = 150, H = 44, GX = 24, GY = 64;
    const width = Math.max(...layers.map(l => l?.length || 0), 1) * (W + GX) + GX;
    const pos = {};
    layers.forEach((l, d) => (l || []).forEach((id, i) => {
      const off = (width - l.length * (W + GX) + GX) / 2;
      pos[id] = { x: off + i * (W + GX), y: GY / 2 + d * (H + GY) };
    }));
    const right = Math.max(...Object.values(pos).map(p => p.x)) + W;
    return { ids, es, pos, W, H, right, width: right + 70, height: layers.length * (H + GY) + GY / 2 };
  }, [def]);
  if (!g.ids.length) return html`<${Empty}>${t('no_data')}<//>`;
  const { W, H } = g;
  return html`<div class="graph" role="img" aria-label=${t('graph')}>
    <svg width=${g.width} height=${g.height} viewBox=${`0 0 ${g.width} ${g.height}`} xmlns="http://www.w3.org/2000/svg">
      <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" /></marker></defs>
      ${g.es.map(([from, to, label], k) => {
        const a = g.pos[from], b = g.pos[to];
        const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
        // Back edges (loops, "on_fail" to the menu) run up a lane on the right.
        const lane = g.right + 14 + (k % 6) * 8;
        const d = y2 <= a.y
          ? `M${a.x + W} ${a.y + H / 2} C ${lane} ${a.y + H / 2}, ${lane} ${a.y + H / 2}, ${lane} ${a.y} L ${lane} ${b.y + H} C ${lane} ${b.y + H / 2}, ${lane} ${b.y + H / 2}, ${b.x + W + 2} ${b.y + H / 2}`
          : `M${x1} ${y1} C ${x1} ${y1 + 30}, ${x2} ${y2 - 30}, ${x2} ${y2 - 2}`;
        return html`<path d=${d} marker-end="url(#arrow)" class=${y2 <= a.y ? 'back' : ''} stroke-dasharray=${label && label.startsWith('on_') ? '4 3' : undefined}><title>${from} → ${to}${label ? ` (${label})` : ''}</title></path>`;
      })}
      ${g.ids.map(id => {
        const p = g.pos[id], n = def.nodes[id] || {};
        return html`<g class="n ${id === def.start ? 'start' : ''} ${bad[id] ? 'bad' : ''}" transform=${`translate(${p.x},${p.y})`} data-node=${id}>
          <rect width=${W} height=${H} rx="8" /><text x="10" y="18">${id.length > 20 ? id.slice(0, 19) + '…' : id}</text>
          <text class="t" x="10" y="34">${n.type || '?'}</text>${bad[id] && html`<title>${bad[id].join('\n')}</title>`}</g>`;
      })}
    </svg></div>`;
}

function NewFlow({ bot, onClose }) {
  const [name, setName] = useState('');
  const [busy, run] = useAction();
  const submit = e => {
    e.preventDefault();
    run(async () => {
      const f = await post(`/api/bots/${bot}/flows`, { name, definition: EXAMPLE });
      navigate(`/flows/${bot}/${f.id}`);
    });
  };
  return html`<${Modal} title=${t('new_flow')} onClose=${onClose}>
    <form onSubmit=${submit}><${Field} label=${t('name')}><input required value=${name} onInput=${e => setName(e.target.value)} /><//>
      <div class="row end"><button type="button" onClick=${onClose}>${t('cancel')}</button><button class="primary" disabled=${busy}>${t('create')}</button></div></form>
  <//>`;
}

export function Flows() {
  const bots = useLoad(() => get('/api/bots'), []);
  const [bot, setBot] = useState(localStorage.getItem('flows.bot') || '');
  const list = bots.data || [];
  const current = list.find(b => b.id === bot) || list[0];
  const flows = useLoad(() => (current ? get(`/api/bots/${current.id}/flows`) : Promise.resolve([])), [current?.id]);
  const [creating, setCreating] = useState(false);
  return html`<div>
    <div class="spread"><h1>${t('nav_flows')}</h1>
      ${current && html`<button class="primary" id="new-flow" onClick=${() => setCreating(true)}>+ ${t('new_flow')}</button>`}</div>
    <${Loaded} st=${bots} what="/api/bots">${() => !list.length
      ? html`<div class="panel"><${Empty} title=${t('no_bots_sim')}><${Link} href="/bots">${t('new_bot')}<//><//></div>`
      : html`<div class="toolbar"><div class="field"><label for="flow-bot">${t('flows_pick_bot')}</label>
          <select id="flow-bot" value=${current.id} onChange=${e => { localStorage.setItem('flows.bot', e.target.value); setBot(e.target.value); }}>
            ${list.map(b => html`<option value=${b.id}>${b.name}</option>`)}</select></div></div>
        <${Loaded} st=${flows} what="/api/bots/{bot}/flows">${() => !flows.data.length
          ? html`<div class="panel"><${Empty} title=${t('flows_empty')}><button class="primary" onClick=${() => setCreating(true)}>+ ${t('new_flow')}</button><//></div>`
          : html`<div class="table-wrap"><table>
            <thead><tr><th>${t('name')}</th><th>${t('latest_version')}</th><th class="hide-sm">${t('nodes')}</th><th class="hide-sm">${t('created')}</th></tr></thead>
            <tbody>${flows.data.map(f => html`<tr class="clickable" tabindex="0" data-flow=${f.id} onClick=${() => navigate(`/flows/${current.id}/${f.id}`)} onKeyDown=${e => e.key === 'Enter' && navigate(`/flows/${current.id}/${f.id}`)}>
              <td><strong>${f.name}</strong> ${f.is_default && html`<${Pill} kind="ok">${t('flow_default')}<//>`}</td>
              <td>${f.latest_version ? `v${f.latest_version}` : html`<span class="muted">${t('draft_only')}</span>`}</td>
              <td class="hide-sm">${Object.keys(f.draft?.nodes || {}).length}</td><td class="hide-sm">${date(f.updated_at)}</td></tr>`)}</tbody></table></div>`}<//>`}<//>
    ${creating && html`<${NewFlow} bot=${current.id} onClose=${() => setCreating(false)} />`}
  </div>`;
}

/** Splits API field errors into per-node messages and general ones. */
function byNode(errors) {
  const nodes = {}, general = [];
  for (const e of errors) {
    const m = e.field.match(/^(?:definition\.)?nodes\.([^.]+)(?:\.(.*))?$/);
    if (m) (nodes[m[1]] ||= []).push(`${m[2] ? m[2] + ': ' : ''}${e.message}`);
    else general.push(`${e.field}: ${e.message}`);
  }
  return { nodes, general };
}

/** start, triggers, the rest, then nodes in reading order (start first, breadth first). */
function readable(def) {
  if (!def || typeof def !== 'object' || !def.nodes) return def;
  const order = [], seen = new Set(), es = edges(def);
  const queue = def.start ? [def.start] : [];
  while (queue.length) {
    const n = queue.shift();
    if (seen.has(n) || !def.nodes[n]) continue;
    seen.add(n); order.push(n);
    for (const [from, to] of es) if (from === n) queue.push(to);
  }
  for (const n of Object.keys(def.nodes)) if (!seen.has(n)) order.push(n);
  const typeFirst = n => ({ type: n.type, ...n });
  const { start, triggers, nodes, ...rest } = def;
  return { start, ...(triggers ? { triggers } : {}), ...rest, nodes: Object.fromEntries(order.map(k => [k, typeFirst(nodes[k])])) };
}

export function FlowEditor({ args: [bot, id] }) {
  const flow = useLoad(() => get(`/api/bots/${bot}/flows/${id}`), [bot, id]);
  const versions = useLoad(() => get(`/api/bots/${bot}/flows/${id}/versions`), [bot, id]);
  const [tab, setTab] = useState('editor');
  const [text, setText] = useState(null);
  const [name, setName] = useState(null);
  const [isDefault, setIsDefault] = useState(null);
  const [errs, setErrs] = useState({ nodes: {}, general: [] });
  const [busy, run] = useAction();
  // Another flow opened in the same editor: drop the unsaved edits of the previous one.
  useEffect(() => { setText(null); setName(null); setIsDefault(null); setErrs({ nodes: {}, general: [] }); }, [bot, id]);
  const f = flow.data;
  const src = text ?? (f ? JSON.stringify(readable(f.draft), null, 2) : '');
  const parsed = useMemo(() => { try { return { def: JSON.parse(src) }; } catch (e) { return { error: e.message }; } }, [src]);

  const save = async () => {
    if (parsed.error) { setErrs({ nodes: {}, general: [t('invalid_json', { e: parsed.error })] }); return false; }
    try {
      const r = await put(`/api/bots/${bot}/flows/${id}`, { name: name ?? f.name, definition: parsed.def, is_default: isDefault ?? f.is_default });
      flow.set(r); setText(null); setName(null); setIsDefault(null);
      setErrs({ nodes: {}, general: [] });
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) { setErrs(byNode(e.errors)); return false; }
      throw e;
    }
  };
  const onSave = () => run(async () => { if (await save()) toast(t('saved_draft')); });
  const publish = () => run(async () => {
    if (!(await save())) return;
    const r = await post(`/api/bots/${bot}/flows/${id}/publish`, {});
    toast(t('published', { v: r.version }));
    flow.reload(true); versions.reload(true);
  });
  const rollback = v => run(async () => {
    const r = await post(`/api/bots/${bot}/flows/${id}/rollback`, { version: v });
    toast(t('rolled_back', { from: v, v: r.version }));
    setText(null); flow.reload(true); versions.reload(true);
  });
  const remove = () => confirm(t('confirm_delete', { name: f.name })) && run(async () => { await del(`/api/bots/${bot}/flows/${id}`); navigate('/flows'); });
  const nErr = Object.values(errs.nodes).reduce((a, l) => a + l.length, 0) + errs.general.length;
  const nodes = parsed.def?.nodes || {};

  return html`<div>
    <p><${Link} href="/flows">← ${t('nav_flows')}<//></p>
    <${Loaded} st=${flow} what="/api/bots/{bot}/flows">${() => html`
      <div class="spread">
        <h1>${f.name} ${f.latest_version ? html`<${Pill} kind="ok">v${f.latest_version}<//>` : html`<${Pill} kind="warn">${t('draft_only')}<//>`}</h1>
        <div class="row">
          <button onClick=${onSave} disabled=${busy} id="flow-save">${t('save')}</button>
          <button class="primary" onClick=${publish} disabled=${busy} id="flow-publish">${t('publish')}</button>
          <button class="danger" onClick=${remove} disabled=${busy}>${t('delete')}</button>
        </div>
      </div>
      <div class="grid2">
        <${Field} label=${t('name')}><input value=${name ?? f.name} onInput=${e => setName(e.target.value)} /><//>
        <label class="check"><input type="checkbox" checked=${isDefault ?? f.is_default} onChange=${e => setIsDefault(e.target.checked)} /> ${t('flow_default')}</label>
      </div>
      ${nErr > 0 && html`<div class="notice error" role="alert" id="flow-errors">${t('flow_errors', { n: nErr })}
        ${errs.general.length > 0 && html`<ul>${errs.general.map(g => html`<li>${g}</li>`)}</ul>`}</div>`}
      <div class="tabs" role="tablist">
        ${[['editor', t('editor')], ['graph', t('graph')], ['versions', t('versions')]].map(([k, l]) => html`
          <button role="tab" aria-selected=${tab === k} onClick=${() => setTab(k)} id=${`tab-${k}`}>${l}</button>`)}
      </div>
      ${tab === 'editor' && html`<div class="flow-layout">
        <div>
          <label for="flow-json">JSON</label>
          <textarea id="flow-json" class="code" spellcheck="false" value=${src} onInput=${e => setText(e.target.value)} aria-invalid=${parsed.error ? 'true' : undefined}></textarea>
          ${parsed.error && html`<div class="err">${t('invalid_json', { e: parsed.error })}</div>`}
        </div>
        <div>
          <h3>${t('nodes')}</h3>
          <ul class="nodes" id="flow-nodes">${Object.entries(nodes).map(([nid, n]) => html`
            <li class=${errs.nodes[nid] ? 'has-err' : ''} data-node=${nid}>
              <strong>${nid}</strong> <span class="muted">${n?.type}</span> ${nid === parsed.def.start && html`<${Pill} kind="ok">start<//>`}
              ${(errs.nodes[nid] || []).map(m => html`<div class="err">${m}</div>`)}
            </li>`)}
            ${Object.keys(errs.nodes).filter(k => !nodes[k]).map(k => html`<li class="has-err" data-node=${k}><strong>${k}</strong>${errs.nodes[k].map(m => html`<div class="err">${m}</div>`)}</li>`)}
          </ul>
        </div>
      </div>`}
      ${tab === 'graph' && (parsed.def ? html`<${Graph} def=${parsed.def} bad=${errs.nodes} />` : html`<div class="err">${t('invalid_json', { e: parsed.error })}</div>`)}
      ${tab === 'versions' && html`<${Loaded} st=${versions}>${() => !versions.data.length ? html`<div class="panel"><${Empty}>${t('no_versions')}<//></div>` : html`
        <div class="table-wrap"><table><thead><tr><th>#</th><th>${t('when')}</th><th>${t('by', { who: '' })}</th><th>${t('notes')}</th><th></th></tr></thead>
        <tbody>${versions.data.slice().sort((a, b) => b.version - a.version).map(v => html`<tr data-version=${v.version}><td>v${v.version}</td><td>${date(v.published_at)}</td><td>${v.published_by}</td><td>${v.note || ''}</td>
          <td>${v.version !== f.latest_version && html`<button class="small" disabled=${busy} onClick=${() => rollback(v.version)}>${t('rollback')}</button>`}</td></tr>`)}</tbody></table></div>`}<//>`}
    `}<//>
  </div>`;
}

export const pages = { flows: Flows, flow: FlowEditor };
