// Renders a message's content (text, buttons, list, media, template) as a chat bubble body.
import { html } from './lib.js';

/** Plain text of a content object (previews, search). */
export function textOf(c) {
  if (!c) return '';
  if (typeof c === 'string') return c;
  return c.body || c.text || c.caption || c.title || c.name || (c.type ? `[${c.type}]` : '');
}

/** `onPick(id, title)` makes buttons and list rows clickable (the simulator). */
export function ContentView({ c, onPick, disabled }) {
  if (!c) return null;
  const choice = (id, title, desc) => html`<button type="button" class="small" disabled=${!onPick || disabled}
      data-choice=${id} onClick=${() => onPick?.(id, title)}>${title}${desc ? html` <span class="muted">— ${desc}</span>` : ''}</button>`;
  switch (c.type) {
    case 'buttons':
      return html`${c.header && html`<strong>${c.header}</strong>\n`}${c.body}
        <div class="choices">${c.buttons.map(b => choice(b.id, b.title))}</div>${c.footer && html`<div class="foot">${c.footer}</div>`}`;
    case 'list':
      return html`${c.header && html`<strong>${c.header}</strong>\n`}${c.body}
        <div class="choices" role="group" aria-label=${c.button}>${c.sections.map(s => html`
          ${s.title && html`<div class="foot">${s.title}</div>`}${s.rows.map(r => choice(r.id, r.title, r.description))}`)}</div>
        ${c.footer && html`<div class="foot">${c.footer}</div>`}`;
    case 'media':
      return html`${c.kind === 'image' && /^(\/|data:)/.test(c.url) ? html`<img src=${c.url} alt=${c.caption || ''} />` : html`📎 ${c.filename || c.kind}`}${c.caption && html`\n${c.caption}`}`;
    case 'template':
      return html`<span class="muted">[template ${c.name}]</span> ${(c.params || []).join(', ')}`;
    case 'button_reply': case 'list_reply':
      return c.title || c.id;
    case 'location':
      return html`📍 ${c.name || ''} ${c.latitude},${c.longitude}`;
    default:
      return textOf(c);
  }
}
