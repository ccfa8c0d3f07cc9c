// Overview: KPI cards (live from events) and charts (from the rollups) with uPlot.
import { html, useState, useEffect, useRef } from '../lib.js';
import { t, num, pct, money, ms, getTenant, getLang, locale } from '../i18n.js';
import { get, qs } from '../api.js';
import { useLoad, Loaded, Empty, useInterval } from '../ui.js';

let uplotReady;
/** Loads the vendored uPlot (script + CSS) once, on first use. */
function loadUplot() {
  uplotReady ||= new Promise((resolve, reject) => {
    const css = document.createElement('link');
    css.rel = 'stylesheet'; css.href = '/vendor/uplot-1.6.32.min.css';
    document.head.appendChild(css);
    const s = document.createElement('script');
    s.src = '/vendor/uplot-1.6.32.iife.min.js';
    s.onload = () => resolve(window.uPlot);
    s.onerror = reject;
    document.head.appendChild(s);
  });
  return uplotReady;
}

const css = name => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

function Chart({ title, series, points, grain, fmt, bars }) {
  const box = useRef();
  const empty = !points || points.every(p => p.slice(1).every(v => !v));
  useEffect(() => {
    if (!points || empty) return undefined;
    let plot, gone = false, ro;
    loadUplot().then(uPlot => {
      if (gone || !box.current) return;
      const width = () => Math.max(260, box.current.clientWidth - 8);
      const xs = points.map(p => p[0]);
      const data = [xs, ...series.map((_, i) => points.map(p => p[i + 1]))];
      const colors = [css('--brand'), css('--info'), css('--warn')];
      const tz = getTenant()?.timezone;
      const days = (xs[xs.length - 1] - xs[0]) / 86400;
      const dfmt = new Intl.DateTimeFormat(locale(), grain === 'day'
        ? { month: 'short', day: 'numeric', timeZone: 'UTC' }
        : days > 2 ? { month: 'short', day: 'numeric', timeZone: tz } : { hour: 'numeric', timeZone: tz });
      const full = new Intl.DateTimeFormat(locale(), grain === 'day'
        ? { dateStyle: 'medium', timeZone: 'UTC' } : { dateStyle: 'short', timeStyle: 'short', timeZone: tz });
      const axis = { stroke: css('--muted'), grid: { stroke: css('--line'), width: 1 }, ticks: { stroke: css('--line') } };
      plot = new uPlot({
        width: width(), height: 200,
        series: [
          { label: t('when'), value: (u, v) => (v == null ? '' : full.format(new Date(v * 1000))) },
          ...series.map((label, i) => ({
            label, stroke: colors[i], width: 2, fill: bars ? colors[i] + '55' : undefined,
            paths: bars ? uPlot.paths.bars({ size: [0.6, 40] }) : undefined,
            value: (u, v) => (v == null ? '—' : fmt ? fmt(v) : num(v)),
          })),
        ],
        axes: [
          { ...axis, space: 70, ...(grain === 'day' || days > 2 ? { incrs: [86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400] } : {}), values: (u, vals) => vals.map(v => dfmt.format(new Date(v * 1000))) },
          { ...axis, size: 64, space: 30, values: (u, vals) => vals.map(v => (fmt ? fmt(v) : num(v))) },
        ],
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
      }, data, box.current);
      ro = new ResizeObserver(() => plot.setSize({ width: width(), height: 200 }));
      ro.observe(box.current);
    });
    return () => { gone = true; ro?.disconnect(); plot?.destroy(); };
  }, [points, getLang()]);
  return html`<section class="panel chart" aria-label=${title}>
    <h2>${title}</h2>
    ${empty ? html`<${Empty}>${t('no_data')}<//>` : html`<div ref=${box} role="img" aria-label=${title}></div>`}
  </section>`;
}

function Card({ k, v, s, id }) {
  return html`<div class="card" data-kpi=${id}><div class="k">${k}</div><div class="v">${v}</div>${s && html`<div class="s">${s}</div>`}</div>`;
}

function Engagement({ hours }) {
  const max = Math.max(1, ...hours);
  if (!hours.some(Boolean)) return null;
  return html`<section class="panel" aria-label=${t('chart_engagement')}>
    <h2>${t('chart_engagement')}</h2>
    <div class="hours-bars">${hours.map((n, h) => html`<div class="hb" title=${`${h}:00 — ${n}`}>
      <span class="bar" style=${{ height: `${Math.round((n / max) * 100)}%` }}></span><span class="hl">${h % 3 === 0 ? h : ''}</span></div>`)}</div>
  </section>`;
}

export function Overview() {
  const [range, setRange] = useState(localStorage.getItem('overview.range') || '24h');
  const cur = getTenant()?.currency || 'USD';
  const kpis = useLoad(() => get('/api/analytics/metrics' + qs({ range })), [range]);
  const grain = range === '30d' ? 'day' : 'hour';
  const series = async (metric, bucket) => (await get('/api/analytics/timeseries' + qs({ metric, bucket, range }))).points;
  const charts = useLoad(async () => {
    const [inn, out, orders, revenue, resp] = await Promise.all([
      series('message_in', grain), series('message_out', grain),
      series(`orders.${cur}`, 'day'), series(`revenue_minor.${cur}`, 'day'), series('response_ms_avg', grain),
    ]);
    const x = p => Math.floor(Date.parse(p.bucket) / 1000);
    return {
      messages: inn.map((p, i) => [x(p), p.value, out[i]?.value ?? 0]),
      orders: orders.map(p => [x(p), p.value]),
      revenue: revenue.map(p => [x(p), p.value]),
      response: resp.map(p => [x(p), p.value]),
    };
  }, [range, cur]);
  useInterval(() => { kpis.reload(true); }, 30_000);
  const pick = r => { localStorage.setItem('overview.range', r); setRange(r); };
  return html`<div>
    <div class="spread"><h1>${t('nav_overview')}</h1>
      <label class="check">${t('range')}
        <select id="range" value=${range} onChange=${e => pick(e.target.value)}>
          ${['24h', '7d', '30d'].map(r => html`<option value=${r}>${t('range_' + r)}</option>`)}
        </select></label>
    </div>
    <${Loaded} st=${kpis} what="/api/analytics">${() => {
      const k = kpis.data;
      const rev = k.orders.find(o => o.currency === cur) || k.orders[0];
      const nOrders = k.orders.reduce((a, o) => a + o.orders, 0);
      return html`
        ${k.messages_in === 0 && k.messages_out === 0 && nOrders === 0 && html`<div class="notice">${t('overview_empty')}</div>`}
        <div class="cards">
          <${Card} id="messages_in" k=${t('kpi_messages_in')} v=${num(k.messages_in)} />
          <${Card} id="messages_out" k=${t('kpi_messages_out')} v=${num(k.messages_out)} />
          <${Card} id="orders" k=${t('kpi_orders')} v=${num(nOrders)} />
          <${Card} id="revenue" k=${t('kpi_revenue')} v=${money(rev?.revenue_minor || 0, rev?.currency || cur)} s=${k.orders.length > 1 ? k.orders.filter(o => o !== rev).map(o => money(o.revenue_minor, o.currency)).join(' · ') : ''} />
          <${Card} id="conversations" k=${t('kpi_conversations')} v=${num(k.active_conversations)} />
          <${Card} id="conversion" k=${t('kpi_conversion')} v=${pct(k.conversion_rate)} s=${t('kpi_converted', { n: num(k.converted_conversations) })} />
          <${Card} id="response" k=${t('kpi_response')} v=${ms(k.response_time?.avg_ms)} s=${t('kpi_p95', { v: ms(k.response_time?.p95_ms) })} />
          <${Card} id="delivery" k=${t('kpi_delivery')} v=${pct(k.delivery_rate)} />
          <${Card} id="errors" k=${t('kpi_errors')} v=${pct(k.error_rate)} />
          <${Card} id="handoffs" k=${t('kpi_handoffs')} v=${num(k.handoffs)} />
          <${Card} id="bots" k=${t('kpi_bots')} v=${num(k.active_bots)} />
        </div>
        <${Engagement} hours=${k.engagement_by_hour || []} />`;
    }}<//>
    <${Loaded} st=${charts} what="/api/analytics/timeseries">${() => html`
      <div class="charts">
        <${Chart} title=${t('chart_messages')} series=${[t('series_in'), t('series_out')]} points=${charts.data.messages} grain=${grain} />
        <${Chart} title=${t('chart_orders')} series=${[t('kpi_orders')]} points=${charts.data.orders} grain="day" bars />
        <${Chart} title=${t('chart_revenue')} series=${[t('kpi_revenue')]} points=${charts.data.revenue} grain="day" fmt=${v => money(v, cur)} bars />
        <${Chart} title=${t('chart_response')} series=${['ms']} points=${charts.data.response} grain=${grain} fmt=${v => num(Math.round(v))} />
      </div>
      <p class="muted small-text">${t('charts_note')}</p>`}<//>
  </div>`;
}

export const pages = { overview: Overview };
