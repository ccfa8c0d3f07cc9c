// Bridge configuration comes from the environment only (systemd EnvironmentFile, compose).
import path from 'node:path';

function int(env, key, dflt) {
  const v = env[key];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${key} must be a non-negative number, got ${v}`);
  return n;
}

function bool(env, key) {
  return ['1', 'true', 'yes', 'on'].includes(String(env[key] ?? '').toLowerCase());
}

/** Reads the bridge settings; throws on missing/invalid values so a bad unit file fails fast. */
export function loadConfig(env = process.env) {
  const token = env.BRIDGE_TOKEN ?? '';
  if (token.length < 8) throw new Error('BRIDGE_TOKEN must be set (at least 8 characters)');
  return {
    host: env.HOST || '127.0.0.1',
    port: int(env, 'PORT', 3100),
    token,
    dataDir: path.resolve(env.BRIDGE_DATA_DIR || './data'),
    fake: bool(env, 'BRIDGE_FAKE'),
    defaultWebhookUrl: env.BRIDGE_WEBHOOK_URL || null,
    defaultWebhookSecret: env.BRIDGE_WEBHOOK_SECRET || null,
    retryMinMs: int(env, 'BRIDGE_RETRY_MIN_MS', 1000),
    retryMaxMs: int(env, 'BRIDGE_RETRY_MAX_MS', 60000),
    webhookTimeoutMs: int(env, 'BRIDGE_WEBHOOK_TIMEOUT_MS', 10000),
    watchdogIntervalMs: int(env, 'BRIDGE_WATCHDOG_INTERVAL_MS', 30000),
    watchdogTimeoutMs: int(env, 'BRIDGE_WATCHDOG_TIMEOUT_MS', 10000),
    watchdogFailures: int(env, 'BRIDGE_WATCHDOG_FAILURES', 3),
    startTimeoutMs: int(env, 'BRIDGE_START_TIMEOUT_MS', 180000),
    reconnectMinMs: int(env, 'BRIDGE_RECONNECT_MIN_MS', 2000),
    reconnectMaxMs: int(env, 'BRIDGE_RECONNECT_MAX_MS', 60000),
    mediaInlineMaxBytes: int(env, 'BRIDGE_MEDIA_INLINE_MAX_BYTES', 5 * 1024 * 1024),
    mediaFetchMaxBytes: int(env, 'BRIDGE_MEDIA_FETCH_MAX_BYTES', 64 * 1024 * 1024),
    chromiumPath: env.PUPPETEER_EXECUTABLE_PATH || env.CHROMIUM_PATH || null,
    logLevel: env.BRIDGE_LOG_LEVEL || 'info',
  };
}
