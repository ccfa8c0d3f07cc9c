// Products: search, filters, create/edit, CSV export and import (with upload progress).
import { html, useState } from '../lib.js';
import { t, money, num, digits, getTenant, locale } from '../i18n.js';
import { get, post, put, del, qs, upload, download, ApiError } from '../api.js';
import { useLoad, Loaded, Empty, Pill, Field, Modal, useAction, toast, fail } from '../ui.js';

/** "45.90" or "45,90" → 4590 for the currency's minor units. */
function toMinor(text, cur) {
  const s = String(text).trim().replace(/\s/g, '');
  if (!s) return null;
  const norm = s.includes(',') && !s.includes('.') ? s.replace(',', '.') : s.replace(/,/g, '');
  const n = Number(norm);
  return Number.isFinite(n) ? Math.round(n * 10 ** digits(cur)) : NaN;
}
const fromMinor = (m, cur) => (m == null ? '' : (m / 10 ** digits(cur)).toFixed(digits(cur)));

function ProductForm({ product, onDone, onClose }) {
  const cur0 = product?.currency || getTenant()?.currency || 'USD';
  const [v, setV] = useState({
    sku: product?.sku || '', name: product?.name || '', description: product?.description || '',
    price: fromMinor(product?.price_minor, cur0), currency: cur0,
    stock: product?.stock == null ? '' : String(product.stock), category: product?.category || '',
    tags: (product?.tags || []).join(', '), images: (product?.images || []).join('\n'), active: product ? product.active : true,
  });
  const [errs, setErrs] = useState({});
  const [busy, setBusy] = useState(false);
  const set = k => e => setV(x => ({ ...x, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value }));
  const submit = async e => {
    e.preventDefault();
    const price_minor = toMinor(v.price, v.currency);
    if (Number.isNaN(price_minor)) { setErrs({ price_minor: '?' }); return; }
    const body = {
      sku: v.sku.trim(), name: v.name.trim(), description: v.description, price_minor, currency: v.currency.trim().toUpperCase(),
      stock: v.stock.trim() === '' ? null : Number(v.stock), category: v.category.trim(),
      tags: v.tags.split(',').map(s => s.trim()).filter(Boolean), images: v.images.split('\n').map(s => s.trim()).filter(Boolean), active: v.active,
    };
    setBusy(true);
    try {
      const p = product ? await put(`/api/products/${product.id}`, body) : await post('/api/products', body);
      toast(t('saved'));
      onDone(p);
    } catch (x) {
      if (x instanceof ApiError && (x.errors.length || x.status === 409)) setErrs(x.errors.length ? x.fields() : { sku: x.message });
      else fail(x);
    } finally { setBusy(false); }
  };
  return html`<${Modal} title=${product ? t('edit_product') : t('new_product')} onClose=${onClose}>
    <form onSubmit=${submit} id="product-form">
      <div class="grid2">
        <${Field} label=${t('name')} error=${errs.name}><input name="name" required value=${v.name} onInput=${set('name')} /><//>
        <${Field} label=${t('sku')} error=${errs.sku}><input name="sku" required value=${v.sku} onInput=${set('sku')} /><//>
        <${Field} label=${`${t('price')} (${v.currency})`} error=${errs.price_minor}><input name="price" inputmode="decimal" required value=${v.price} onInput=${set('price')} placeholder=${(45.9).toLocaleString(locale(), { minimumFractionDigits: 2 })} /><//>
        <${Field} label=${t('currency')} error=${errs.currency}><input name="currency" maxlength="3" value=${v.currency} onInput=${set('currency')} /><//>
        <${Field} label=${t('stock')} error=${errs.stock} hint=${t('unlimited') + ': —'}><input name="stock" type="number" min="0" value=${v.stock} onInput=${set('stock')} placeholder=${t('unlimited')} /><//>
        <${Field} label=${t('category')} error=${errs.category}><input name="category" value=${v.category} onInput=${set('category')} /><//>
      </div>
      <${Field} label=${t('description')} error=${errs.description}><textarea name="description" rows="3" value=${v.description} onInput=${set('description')}></textarea><//>
      <${Field} label=${t('tags')} error=${errs.tags}><input name="tags" value=${v.tags} onInput=${set('tags')} /><//>
      <${Field} label=${t('images')} error=${errs.images}><textarea name="images" rows="2" value=${v.images} onInput=${set('images')}></textarea><//>
      <label class="check"><input type="checkbox" name="active" checked=${v.active} onChange=${set('active')} /> ${t('active')}</label>
      <div class="row end"><button type="button" onClick=${onClose}>${t('cancel')}</button>
        <button class="primary" type="submit" disabled=${busy}>${busy ? t('saving') : t('save')}</button></div>
    </form>
  <//>`;
}

function Import({ onDone }) {
  const [st, setSt] = useState(null);
  const pick = async e => {
    const file = e.target.files[0];
    e.target.value = '';
    if (!file) return;
    setSt({ name: file.name, p: 0 });
    try {
      const r = await upload('/api/products/import', file, 'text/csv', p => setSt({ name: file.name, p }));
      const summary = Object.entries(r || {}).filter(([, v]) => typeof v === 'number').map(([k, v]) => `${k}: ${v}`).join(', ');
      setSt(null);
      toast(t('imported', { s: summary }));
      onDone();
    } catch (x) {
      setSt({ name: file.name, error: x });
    }
  };
  return html`<span>
    <label class="btn" for="csv-import">⬆ ${t('import_csv')}</label>
    <input id="csv-import" class="sr-only" type="file" accept=".csv,text/csv" onChange=${pick} />
    ${st && !st.error && html`<div class="notice" role="status">${t('importing', { name: st.name })}<progress max="1" value=${st.p < 1 ? st.p : undefined}></progress></div>`}
    ${st?.error && html`<div class="notice error" role="alert">${t('import_failed')} ${st.error.message}
      <ul>${st.error.errors.slice(0, 20).map(e => html`<li>${e.field}: ${e.message}</li>`)}</ul>
      <button class="small" onClick=${() => setSt(null)}>${t('close')}</button></div>`}
  </span>`;
}

export function Products() {
  const [f, setF] = useState({ q: '', category: '', in_stock: '', active: '' });
  const [editing, setEditing] = useState(null);
  const cats = useLoad(() => get('/api/products/categories').catch(() => []), []);
  const list = useLoad(() => get('/api/products' + qs({ ...f, limit: 100 })), [f.q, f.category, f.in_stock, f.active]);
  const [, run] = useAction();
  const set = (k, v) => setF(x => ({ ...x, [k]: v }));
  const remove = p => confirm(t('confirm_delete', { name: p.name })) && run(async () => { await del(`/api/products/${p.id}`); list.reload(true); });
  const items = list.data?.items || [];
  return html`<div>
    <div class="spread"><h1>${t('nav_products')}</h1>
      <div class="row">
        <button class="primary" id="new-product" onClick=${() => setEditing({})}>+ ${t('new_product')}</button>
        <button onClick=${() => download('/api/products/export', 'products.csv').catch(fail)}>⬇ ${t('export_csv')}</button>
        <${Import} onDone=${() => { list.reload(true); cats.reload(true); }} />
      </div></div>
    <form class="toolbar" role="search" onSubmit=${e => { e.preventDefault(); set('q', e.target.elements.q.value); }}>
      <div class="field"><label for="p-q">${t('search')}</label><input id="p-q" name="q" type="search" value=${f.q} onChange=${e => set('q', e.target.value)} /></div>
      <div class="field"><label for="p-cat">${t('category')}</label>
        <select id="p-cat" value=${f.category} onChange=${e => set('category', e.target.value)}>
          <option value="">${t('all')}</option>${(cats.data || []).map(c => { const n = c.name ?? c.category ?? c; return html`<option value=${n}>${n}${c.products != null ? ` (${c.products})` : ""}</option>`; })}</select></div>
      <div class="field"><label for="p-stock">${t('stock')}</label>
        <select id="p-stock" value=${f.in_stock} onChange=${e => set('in_stock', e.target.value)}>
          <option value="">${t('all')}</option><option value="true">${t('in_stock')}</option><option value="false">${t('out_of_stock')}</option></select></div>
    </form>
    <${Loaded} st=${list} what="/api/products">${() => !items.length
      ? html`<div class="panel"><${Empty} title=${t('products_empty')}><button class="primary" onClick=${() => setEditing({})}>+ ${t('new_product')}</button><//></div>`
      : html`<div class="table-wrap"><table id="products-table">
        <thead><tr><th>${t('name')}</th><th class="hide-sm">${t('sku')}</th><th class="hide-sm">${t('category')}</th><th class="right">${t('price')}</th><th class="right">${t('stock')}</th><th><span class="sr-only">${t('actions')}</span></th></tr></thead>
        <tbody>${items.map(p => html`<tr data-sku=${p.sku}>
          <td>${p.name} ${!p.active && html`<${Pill} kind="bad">${t('inactive')}<//>`}</td><td class="hide-sm mono">${p.sku}</td><td class="hide-sm">${p.category}</td>
          <td class="right nowrap">${money(p.price_minor, p.currency)}</td>
          <td class="right">${p.stock == null ? html`<span class="muted">∞</span>` : p.stock === 0 ? html`<${Pill} kind="bad">0<//>` : num(p.stock)}</td>
          <td class="nowrap right"><button class="small" aria-label=${`${t('edit')} ${p.name}`} onClick=${() => setEditing(p)}>${t('edit')}</button>
            <button class="small danger" aria-label=${`${t('delete')} ${p.name}`} onClick=${() => remove(p)}>✕</button></td></tr>`)}</tbody></table></div>`}<//>
    ${editing && html`<${ProductForm} product=${editing.id ? editing : null} onClose=${() => setEditing(null)} onDone=${() => { setEditing(null); list.reload(true); cats.reload(true); }} />`}
  </div>`;
}

export const pages = { products: Products };
