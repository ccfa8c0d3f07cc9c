// Spanish and English. The language comes from the browser, can be switched, and is kept
// in localStorage; numbers, money and dates use Intl with the shop's locale and time zone.

const D = {
  // [English, Spanish]
  app_tagline: ['WhatsApp commerce back office', 'Tu tienda en WhatsApp'],
  email: ['E-mail', 'Correo electrónico'],
  password: ['Password', 'Contraseña'],
  login: ['Log in', 'Iniciar sesión'],
  logout: ['Log out', 'Cerrar sesión'],
  logging_in: ['Logging in…', 'Entrando…'],
  invalid_credentials: ['The e-mail or password is wrong.', 'El correo o la contraseña no son correctos.'],
  too_many_login_attempts: ['Too many attempts. Wait a minute and try again.', 'Demasiados intentos. Espera un minuto e inténtalo de nuevo.'],
  rate_limited: ['Too many requests. Try again in a moment.', 'Demasiadas solicitudes. Inténtalo en un momento.'],
  language: ['Language', 'Idioma'],
  menu: ['Menu', 'Menú'],
  skip: ['Skip to content', 'Saltar al contenido'],
  loading: ['Loading…', 'Cargando…'],
  saving: ['Saving…', 'Guardando…'],
  save: ['Save', 'Guardar'],
  saved: ['Saved', 'Guardado'],
  cancel: ['Cancel', 'Cancelar'],
  close: ['Close', 'Cerrar'],
  edit: ['Edit', 'Editar'],
  delete: ['Delete', 'Eliminar'],
  confirm_delete: ['Delete {name}? This cannot be undone.', '¿Eliminar {name}? No se puede deshacer.'],
  create: ['Create', 'Crear'],
  new: ['New', 'Nuevo'],
  search: ['Search', 'Buscar'],
  all: ['All', 'Todos'],
  yes: ['Yes', 'Sí'],
  no: ['No', 'No'],
  more: ['Load more', 'Cargar más'],
  optional: ['optional', 'opcional'],
  refresh: ['Refresh', 'Actualizar'],
  actions: ['Actions', 'Acciones'],
  name: ['Name', 'Nombre'],
  phone: ['Phone', 'Teléfono'],
  status: ['Status', 'Estado'],
  created: ['Created', 'Creado'],
  active: ['Active', 'Activo'],
  inactive: ['Inactive', 'Inactivo'],
  role: ['Role', 'Rol'],
  not_available: ['Not available on this server yet.', 'Aún no está disponible en este servidor.'],
  not_available_hint: ['This page will work once the server offers {what}.', 'Esta página funcionará cuando el servidor ofrezca {what}.'],
  error_generic: ['Something went wrong: {detail}', 'Algo salió mal: {detail}'],
  session_expired: ['Your session expired. Please log in again.', 'Tu sesión expiró. Vuelve a iniciar sesión.'],
  forbidden: ['Your role cannot do this.', 'Tu rol no permite hacer esto.'],
  // nav
  nav_overview: ['Overview', 'Resumen'],
  nav_inbox: ['Inbox', 'Bandeja'],
  nav_simulator: ['Simulator', 'Simulador'],
  nav_bots: ['Bots', 'Bots'],
  nav_flows: ['Flows', 'Flujos'],
  nav_products: ['Products', 'Productos'],
  nav_orders: ['Orders', 'Pedidos'],
  nav_customers: ['Customers', 'Clientes'],
  nav_sellers: ['Sellers', 'Vendedores'],
  nav_outbox: ['Failed messages', 'Mensajes fallidos'],
  nav_users: ['Users & API keys', 'Usuarios y claves API'],
  nav_settings: ['Settings', 'Configuración'],
  nav_errors: ['Errors', 'Errores'],
  sec_sell: ['Sell', 'Ventas'],
  sec_talk: ['Conversations', 'Conversaciones'],
  sec_admin: ['Administration', 'Administración'],
  // overview
  range_24h: ['Last 24 hours', 'Últimas 24 horas'],
  range_7d: ['Last 7 days', 'Últimos 7 días'],
  range_30d: ['Last 30 days', 'Últimos 30 días'],
  range: ['Period', 'Periodo'],
  kpi_messages_in: ['Messages received', 'Mensajes recibidos'],
  kpi_messages_out: ['Messages sent', 'Mensajes enviados'],
  kpi_delivery: ['Delivery rate', 'Tasa de entrega'],
  kpi_errors: ['Error rate', 'Tasa de error'],
  kpi_response: ['Bot response time', 'Tiempo de respuesta'],
  kpi_p95: ['p95 {v}', 'p95 {v}'],
  kpi_conversations: ['Active conversations', 'Conversaciones activas'],
  kpi_conversion: ['Conversion', 'Conversión'],
  kpi_converted: ['{n} ended in an order', '{n} terminaron en pedido'],
  kpi_orders: ['Orders', 'Pedidos'],
  kpi_revenue: ['Revenue', 'Ingresos'],
  kpi_handoffs: ['Hand-offs to people', 'Derivaciones a personas'],
  kpi_bots: ['Active bots', 'Bots activos'],
  chart_messages: ['Messages per hour', 'Mensajes por hora'],
  chart_orders: ['Orders per day', 'Pedidos por día'],
  chart_revenue: ['Revenue per day', 'Ingresos por día'],
  chart_response: ['Response time (ms, hourly average)', 'Tiempo de respuesta (ms, promedio por hora)'],
  chart_engagement: ['Messages by hour of day', 'Mensajes por hora del día'],
  series_in: ['Received', 'Recibidos'],
  series_out: ['Sent', 'Enviados'],
  charts_note: ['Charts are updated every few minutes.', 'Los gráficos se actualizan cada pocos minutos.'],
  no_data: ['No data yet', 'Aún no hay datos'],
  overview_empty: ['No activity yet. Try the simulator to send a first message to your bot.', 'Aún no hay actividad. Usa el simulador para enviar un primer mensaje a tu bot.'],
  // bots
  bots_empty: ['No bots yet. Create one and connect a WhatsApp number.', 'Aún no hay bots. Crea uno y conecta un número de WhatsApp.'],
  new_bot: ['New bot', 'Nuevo bot'],
  edit_bot: ['Edit bot', 'Editar bot'],
  channels: ['Channels', 'Canales'],
  primary_channel: ['Primary channel', 'Canal principal'],
  fallback_channel: ['Fallback channel {n}', 'Canal de respaldo {n}'],
  add_fallback: ['Add fallback channel', 'Agregar canal de respaldo'],
  remove: ['Remove', 'Quitar'],
  kind: ['Provider', 'Proveedor'],
  webhook_url: ['Webhook URL', 'URL del webhook'],
  secret_kept: ['Stored — leave empty to keep', 'Guardado — deja vacío para conservar'],
  pair: ['Pair with QR', 'Vincular con QR'],
  pairing_title: ['Pair {name} with WhatsApp', 'Vincular {name} con WhatsApp'],
  pairing_help: ['On the phone: WhatsApp → Settings → Linked devices → Link a device, then scan this code. It refreshes by itself.', 'En el teléfono: WhatsApp → Configuración → Dispositivos vinculados → Vincular un dispositivo, y escanea este código. Se actualiza solo.'],
  pairing_wait: ['Waiting for the bridge to show a code…', 'Esperando que el puente muestre un código…'],
  paired: ['Connected! The bot is ready.', '¡Conectado! El bot está listo.'],
  state_connected: ['connected', 'conectado'],
  state_qr_pending: ['waiting for QR', 'esperando QR'],
  state_down: ['down', 'caído'],
  circuit: ['circuit {s}', 'circuito {s}'],
  role_primary: ['primary', 'principal'],
  role_fallback: ['fallback', 'respaldo'],
  bot_settings: ['Bot settings (JSON)', 'Ajustes del bot (JSON)'],
  business_hours: ['Business hours', 'Horario de atención'],
  hours_enabled: ['Answer with an away message outside these hours', 'Fuera de este horario, responder con un mensaje de ausencia'],
  away_message: ['Away message', 'Mensaje de ausencia'],
  opens: ['Opens', 'Abre'],
  closes: ['Closes', 'Cierra'],
  closed_day: ['Closed', 'Cerrado'],
  day: ['Day', 'Día'],
  invalid_json: ['Not valid JSON: {e}', 'No es JSON válido: {e}'],
  // flows
  flows_pick_bot: ['Bot', 'Bot'],
  flows_empty: ['This bot has no flows. Create one — you can start from the example.', 'Este bot no tiene flujos. Crea uno; puedes partir del ejemplo.'],
  new_flow: ['New flow', 'Nuevo flujo'],
  flow_default: ['Default flow', 'Flujo predeterminado'],
  latest_version: ['Published version', 'Versión publicada'],
  draft_only: ['draft only', 'solo borrador'],
  publish: ['Publish', 'Publicar'],
  published: ['Published version {v}', 'Publicada la versión {v}'],
  versions: ['Versions', 'Versiones'],
  rollback: ['Roll back to this', 'Volver a esta'],
  rolled_back: ['Version {from} is live again as version {v}', 'La versión {from} vuelve a estar activa como versión {v}'],
  editor: ['Editor', 'Editor'],
  graph: ['Graph', 'Diagrama'],
  nodes: ['Nodes', 'Nodos'],
  flow_errors: ['{n} problems — fix them at the marked nodes', '{n} problemas — corrígelos en los nodos marcados'],
  saved_draft: ['Draft saved', 'Borrador guardado'],
  no_versions: ['Not published yet.', 'Aún no se ha publicado.'],
  by: ['by {who}', 'por {who}'],
  // simulator
  sim_help: ['Chat with your bot as a test customer. Messages go through the real flow, orders are real.', 'Conversa con tu bot como un cliente de prueba. Los mensajes pasan por el flujo real y los pedidos son reales.'],
  sim_empty: ['Say "hola" to start.', 'Escribe "hola" para empezar.'],
  sim_reset: ['Start over', 'Empezar de nuevo'],
  type_message: ['Type a message', 'Escribe un mensaje'],
  send: ['Send', 'Enviar'],
  no_bots_sim: ['Create a bot first to use the simulator.', 'Crea un bot primero para usar el simulador.'],
  // inbox
  inbox_empty: ['No conversations yet. They appear here as customers write.', 'Aún no hay conversaciones. Aparecen aquí cuando los clientes escriben.'],
  pick_conversation: ['Pick a conversation.', 'Elige una conversación.'],
  st_bot: ['bot', 'bot'],
  st_human: ['agent', 'agente'],
  st_closed: ['closed', 'cerrada'],
  take_over: ['Take over', 'Tomar conversación'],
  release: ['Give back to bot', 'Devolver al bot'],
  close_conv: ['Close', 'Cerrar'],
  reset_conv: ['Reset flow', 'Reiniciar flujo'],
  reply_disabled: ['Take over the conversation to reply.', 'Toma la conversación para responder.'],
  only_unread: ['Unread only', 'Solo no leídas'],
  live: ['live', 'en vivo'],
  offline: ['reconnecting…', 'reconectando…'],
  back: ['Back', 'Volver'],
  earlier: ['Earlier messages', 'Mensajes anteriores'],
  // products
  products_empty: ['No products yet. Add one or import a CSV file.', 'Aún no hay productos. Agrega uno o importa un archivo CSV.'],
  new_product: ['New product', 'Nuevo producto'],
  edit_product: ['Edit product', 'Editar producto'],
  sku: ['SKU', 'SKU'],
  price: ['Price', 'Precio'],
  stock: ['Stock', 'Stock'],
  unlimited: ['unlimited', 'ilimitado'],
  category: ['Category', 'Categoría'],
  description: ['Description', 'Descripción'],
  tags: ['Tags (comma separated)', 'Etiquetas (separadas por comas)'],
  images: ['Image URLs (one per line)', 'URLs de imágenes (una por línea)'],
  in_stock: ['In stock', 'Con stock'],
  out_of_stock: ['Out of stock', 'Sin stock'],
  export_csv: ['Export CSV', 'Exportar CSV'],
  import_csv: ['Import CSV', 'Importar CSV'],
  importing: ['Importing {name}…', 'Importando {name}…'],
  imported: ['Import done: {s}', 'Importación lista: {s}'],
  import_failed: ['Nothing was imported:', 'No se importó nada:'],
  // orders
  orders_empty: ['No orders yet. They arrive from the bot, or try a purchase in the simulator.', 'Aún no hay pedidos. Llegan desde el bot; prueba una compra en el simulador.'],
  order_n: ['Order #{n}', 'Pedido #{n}'],
  customer: ['Customer', 'Cliente'],
  seller: ['Seller', 'Vendedor'],
  total: ['Total', 'Total'],
  subtotal: ['Subtotal', 'Subtotal'],
  discount: ['Discount', 'Descuento'],
  shipping: ['Shipping', 'Envío'],
  items: ['Items', 'Productos'],
  qty: ['Qty', 'Cant.'],
  history: ['History', 'Historial'],
  notes: ['Notes', 'Notas'],
  source: ['Source', 'Origen'],
  from_date: ['From', 'Desde'],
  to_date: ['To', 'Hasta'],
  mark_as: ['Mark as {s}', 'Marcar como {s}'],
  status_changed: ['Order #{n} is now {s}', 'El pedido #{n} ahora está {s}'],
  final_status: ['This order is final.', 'Este pedido está cerrado.'],
  os_pending: ['pending', 'pendiente'],
  os_confirmed: ['confirmed', 'confirmado'],
  os_paid: ['paid', 'pagado'],
  os_shipped: ['shipped', 'enviado'],
  os_delivered: ['delivered', 'entregado'],
  os_cancelled: ['cancelled', 'cancelado'],
  order_search: ['Number, name or phone', 'Número, nombre o teléfono'],
  // customers & sellers
  customers_empty: ['No customers yet. They are added when someone writes to your bot.', 'Aún no hay clientes. Se agregan cuando alguien escribe a tu bot.'],
  new_customer: ['New customer', 'Nuevo cliente'],
  opted_out: ['Opted out', 'Dado de baja'],
  sellers_empty: ['No sellers yet. Add the people who take orders to see their sales.', 'Aún no hay vendedores. Agrega a quienes atienden pedidos para ver sus ventas.'],
  new_seller: ['New seller', 'Nuevo vendedor'],
  commission: ['Commission %', 'Comisión %'],
  sales: ['Sales (30 days)', 'Ventas (30 días)'],
  orders_count: ['Orders', 'Pedidos'],
  // outbox
  outbox_help: ['Messages that could not be delivered after every retry. Retry them once the channel works again, or discard them.', 'Mensajes que no se pudieron entregar tras todos los reintentos. Reintenta cuando el canal vuelva a funcionar, o descártalos.'],
  outbox_empty: ['Nothing failed. Every message was delivered or is on its way.', 'No hay fallos. Todos los mensajes se entregaron o van en camino.'],
  to: ['To', 'Para'],
  attempts: ['Attempts', 'Intentos'],
  last_error: ['Last error', 'Último error'],
  retry: ['Retry', 'Reintentar'],
  ob_problems: ['Failed and dead letters', 'Fallidos y agotados'],
  ob_dead: ['dead (retries exhausted)', 'agotados (sin más reintentos)'],
  ob_failed: ['failed (final provider error)', 'fallidos (error definitivo del proveedor)'],
  ob_queued: ['queued', 'en cola'],
  ob_sending: ['sending', 'enviando'],
  ob_sent: ['sent', 'enviados'],
  ob_discarded: ['discarded', 'descartados'],
  discard: ['Discard', 'Descartar'],
  queued_again: ['Queued again', 'En cola de nuevo'],
  discarded: ['Discarded', 'Descartado'],
  // users
  users: ['Users', 'Usuarios'],
  new_user: ['New user', 'Nuevo usuario'],
  api_keys: ['API keys', 'Claves API'],
  new_key: ['New API key', 'Nueva clave API'],
  key_secret_once: ['Copy this secret now; it will not be shown again:', 'Copia este secreto ahora; no se volverá a mostrar:'],
  prefix: ['Prefix', 'Prefijo'],
  last_used: ['Last used', 'Último uso'],
  never: ['never', 'nunca'],
  revoke: ['Revoke', 'Revocar'],
  keys_empty: ['No API keys. Create one to connect other systems.', 'No hay claves API. Crea una para conectar otros sistemas.'],
  r_owner: ['owner', 'dueño'],
  r_admin: ['admin', 'administrador'],
  r_agent: ['agent', 'agente'],
  r_viewer: ['viewer', 'lector'],
  // settings
  shop_name: ['Shop name', 'Nombre de la tienda'],
  timezone: ['Time zone', 'Zona horaria'],
  currency: ['Currency', 'Moneda'],
  country: ['Country', 'País'],
  locale: ['Locale (formats)', 'Configuración regional (formatos)'],
  hours_note: ['Default hours for the shop. Each bot can override them in its settings.', 'Horario por defecto de la tienda. Cada bot puede cambiarlo en sus ajustes.'],
  apply_hours_bots: ['Also apply to all bots', 'Aplicar también a todos los bots'],
  // errors
  errors_empty: ['No errors recorded. All good.', 'No hay errores registrados. Todo bien.'],
  incidents: ['Open incidents', 'Incidentes abiertos'],
  incidents_empty: ['No open incidents.', 'No hay incidentes abiertos.'],
  resolve: ['Resolve', 'Resolver'],
  mark_seen: ['Mark all as seen', 'Marcar todo como visto'],
  severity: ['Severity', 'Gravedad'],
  message: ['Message', 'Mensaje'],
  module: ['Module', 'Módulo'],
  when: ['When', 'Cuándo'],
  occurrences: ['Times', 'Veces'],
  unseen: ['{n} unseen', '{n} sin ver'],
};

const days = {
  monday: ['Monday', 'Lunes'], tuesday: ['Tuesday', 'Martes'], wednesday: ['Wednesday', 'Miércoles'],
  thursday: ['Thursday', 'Jueves'], friday: ['Friday', 'Viernes'], saturday: ['Saturday', 'Sábado'], sunday: ['Sunday', 'Domingo'],
};
Object.assign(D, days);

let lang = (() => {
  const saved = localStorage.getItem('lang');
  if (saved === 'es' || saved === 'en') return saved;
  return (navigator.languages || [navigator.language || 'en']).some(l => String(l).toLowerCase().startsWith('es')) ? 'es' : 'en';
})();
let tenant = null;

export const getLang = () => lang;
export function setLang(l) {
  lang = l === 'es' ? 'es' : 'en';
  localStorage.setItem('lang', lang);
  document.documentElement.lang = lang;
}
document.documentElement.lang = lang;
export function setTenant(t) { tenant = t; }
export function getTenant() { return tenant; }

/** The translation of `key`, with `{var}` replaced from `vars`. */
export function t(key, vars) {
  const e = D[key];
  let s = e ? e[lang === 'es' ? 1 : 0] : key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? ''));
  return s;
}

/** The Intl locale: the shop's locale when it speaks the chosen language, else the language. */
export function locale() {
  const l = tenant?.locale;
  if (l && l.toLowerCase().startsWith(lang)) return l;
  if (tenant?.country) return `${lang}-${tenant.country}`;
  return lang;
}
const tz = () => tenant?.timezone || undefined;

const cache = new Map();
function nf(opts) {
  const k = locale() + JSON.stringify(opts);
  if (!cache.has(k)) {
    try { cache.set(k, new Intl.NumberFormat(locale(), opts)); } catch { cache.set(k, new Intl.NumberFormat(lang, opts)); }
  }
  return cache.get(k);
}
export const digits = cur => { try { return new Intl.NumberFormat('en', { style: 'currency', currency: cur }).resolvedOptions().maximumFractionDigits; } catch { return 2; } };
export const num = (n, o) => (n == null ? '—' : nf(o || {}).format(n));
export const pct = r => (r == null ? '—' : nf({ style: 'percent', maximumFractionDigits: 1 }).format(r));
/** Money from integer minor units. */
export function money(minor, cur) {
  cur = cur || tenant?.currency || 'USD';
  if (minor == null) return '—';
  return nf({ style: 'currency', currency: cur }).format(minor / 10 ** digits(cur));
}
export function date(s, opts) {
  if (!s) return '—';
  const d = new Date(s);
  if (isNaN(d)) return s;
  try { return new Intl.DateTimeFormat(locale(), { timeZone: tz(), ...(opts || { dateStyle: 'medium', timeStyle: 'short' }) }).format(d); } catch { return d.toLocaleString(); }
}
export const time = s => date(s, { timeStyle: 'short' });
export function ms(v) {
  if (v == null) return '—';
  return v >= 1000 ? `${num(v / 1000, { maximumFractionDigits: 1 })} s` : `${num(Math.round(v))} ms`;
}
export const orderStatus = s => t('os_' + s);
export const roleName = r => t('r_' + r);
