// Sessions: one WhatsApp number each. Owns the state machine, the watchdog, reconnects
// with backoff, and turns adapter callbacks into queued events for the appliance.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import QRCode from 'qrcode';
import { writeFileDurable } from './queue.js';
import { jidUser } from './content.js';

export const STATES = ['starting', 'qr_pending', 'connected', 'logged_out', 'failed'];
export const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;

export class NotConnected extends Error {}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function withTimeout(promise, ms) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timed out after ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(t));
}

export class Session {
  constructor({ name, record, manager }) {
    this.name = name;
    this.record = record; // { name, webhook_url, webhook_secret, stopped }
    this.manager = manager;
    this.config = manager.config;
    this.log = manager.log.child({ session: name });
    this.state = record.stopped ? 'logged_out' : 'starting';
    this.reason = record.stopped ? (record.reason ?? 'logged out') : null;
    this.since = new Date().toISOString();
    this.me = null;
    this.qr = null;
    this.adapter = null;
    this.generation = 0;
    this.failures = 0;
    this.restarts = 0;
    this.watchdog = null;
    this.checking = false;
  }

  get authDir() { return path.join(this.manager.sessionsDir, this.name, 'auth'); }

  view() {
    return { name: this.name, state: this.state, reason: this.reason, since: this.since, me: this.me };
  }

  /** Starts (or restarts) the library client. */
  async start() {
    const gen = ++this.generation;
    this.startedAt = Date.now();
    this.record.stopped = false;
    this.manager.saveRecord(this.record);
    // Keep the reason of a reconnect so a long outage is one state event, not one per retry.
    if (this.state !== 'starting') this.setState('starting', null);
    fs.mkdirSync(this.authDir, { recursive: true, mode: 0o700 });
    this.adapter = new this.manager.Adapter({
      name: this.name, authDir: this.authDir, factory: this.manager.factory,
      config: this.config, log: this.log, events: this.eventsFor(gen),
    });
    this.startWatchdog();
    // Not awaited: some libraries (venom) only resolve once the QR has been scanned.
    this.adapter.start().catch((err) => {
      if (gen !== this.generation) return;
      this.log.error('client failed to start', { err: String(err?.stack ?? err) });
      this.scheduleRestart(`start failed: ${err?.message ?? err}`);
    });
  }

  /** Callbacks for one adapter generation; stale generations are ignored. */
  eventsFor(gen) {
    const live = () => gen === this.generation;
    return {
      qr: (text) => { if (live()) this.setState('qr_pending', null, text); },
      connecting: (reason) => { if (live() && this.state !== 'starting') this.setState('starting', reason ?? null); },
      connected: (meJid) => {
        if (!live()) return;
        this.me = meJid ? jidUser(meJid) : this.me;
        this.failures = 0;
        this.restarts = 0;
        this.setState('connected', null);
      },
      reconnect: (reason) => { if (live()) this.scheduleRestart(reason); },
      loggedOut: (reason) => { if (live()) this.loggedOut(reason ?? 'logged out from the phone'); },
      failed: (reason) => { if (live()) this.fail(reason); },
      message: (m) => { if (live()) this.emit('message', { message: m }); },
      ack: (a) => { if (live()) this.emit('ack', { ack: { error: null, ...a } }); },
    };
  }

  setState(state, reason, qr = null) {
    const changed = state !== this.state || reason !== this.reason || (qr && qr !== this.qr);
    if (state !== this.state) this.since = new Date().toISOString();
    this.state = state;
    this.reason = reason;
    this.qr = state === 'qr_pending' ? qr : null;
    this.qrPng = null;
    if (changed) {
      this.log.info('session state', { state, reason });
      this.emit('state', { state: { state, reason, qr: this.qr } });
    }
  }

  emit(type, payload) {
    const body = JSON.stringify({
      id: crypto.randomUUID(), session: this.name, type, timestamp: new Date().toISOString(), ...payload,
    });
    this.manager.queues.push(this.name, body, { url: this.record.webhook_url, secret: this.record.webhook_secret });
  }

  async qrView() {
    if (this.state !== 'qr_pending' || !this.qr) return null;
    if (!this.qrPng) this.qrPng = await QRCode.toDataURL(this.qr, { errorCorrectionLevel: 'L', margin: 2, scale: 6 });
    return { qr: this.qr, png: this.qrPng };
  }

  async send(to, content) {
    if (this.state !== 'connected' || !this.adapter) throw new NotConnected();
    return this.adapter.send(to, content);
  }

  scheduleRestart(reason) {
    const gen = ++this.generation; // invalidates the old adapter's callbacks
    const old = this.adapter;
    this.adapter = null;
    this.stopWatchdog();
    this.setState('starting', reason);
    this.restarts += 1;
    const delay = Math.min(this.config.reconnectMaxMs, this.config.reconnectMinMs * 2 ** Math.min(this.restarts - 1, 20));
    (async () => {
      await this.stopAdapter(old);
      await sleep(delay);
      if (gen === this.generation) await this.start();
    })();
  }

  /** Not retried on its own (banned, or taken over by another client): POST starts it again. */
  async fail(reason) {
    ++this.generation;
    const old = this.adapter;
    this.adapter = null;
    this.stopWatchdog();
    this.setState('failed', reason);
    await this.stopAdapter(old);
  }

  async loggedOut(reason) {
    ++this.generation;
    const old = this.adapter;
    this.adapter = null;
    this.stopWatchdog();
    await this.stopAdapter(old);
    this.wipeCredentials();
    this.me = null;
    this.record.stopped = true;
    this.record.reason = reason;
    this.manager.saveRecord(this.record);
    this.setState('logged_out', reason);
  }

  wipeCredentials() {
    fs.rmSync(this.authDir, { recursive: true, force: true });
  }

  /** DELETE: log out on WhatsApp, drop the credentials and forget the session. */
  async destroy() {
    ++this.generation;
    const old = this.adapter;
    this.adapter = null;
    this.stopWatchdog();
    if (old) {
      await withTimeout(old.logout(), 15000).catch((err) => this.log.warn('logout failed; wiping anyway', { err: String(err) }));
      await this.stopAdapter(old);
    }
    this.wipeCredentials();
    if (this.state !== 'logged_out') this.setState('logged_out', 'deleted');
  }

  /** Bridge shutdown: close the client but keep credentials. */
  async shutdown() {
    ++this.generation;
    this.stopWatchdog();
    await this.stopAdapter(this.adapter);
  }

  /** Stops a client without ever hanging the session (a wedged browser must not block a restart). */
  async stopAdapter(adapter) {
    if (!adapter) return;
    await withTimeout(Promise.resolve().then(() => adapter.stop()), 15000)
      .catch((err) => this.log.warn('stopping client failed', { err: String(err) }));
  }

  startWatchdog() {
    this.stopWatchdog();
    if (!this.config.watchdogIntervalMs) return;
    this.watchdog = setInterval(() => this.watchdogTick(), this.config.watchdogIntervalMs);
    this.watchdog.unref?.();
  }

  stopWatchdog() {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    this.failures = 0;
  }

  async watchdogTick() {
    // A client that never gets past starting (hung browser, half-open socket) is rebuilt too.
    if (this.state === 'starting' && this.adapter && Date.now() - this.startedAt > this.config.startTimeoutMs) {
      this.scheduleRestart(`start timed out after ${this.config.startTimeoutMs} ms`);
      return;
    }
    if (this.state !== 'connected' || !this.adapter || this.checking) return;
    const gen = this.generation;
    this.checking = true;
    let ok = false;
    let why = 'check returned not connected';
    try {
      ok = await withTimeout(Promise.resolve(this.adapter.check()), this.config.watchdogTimeoutMs);
    } catch (err) {
      why = err?.message ?? String(err);
    } finally {
      this.checking = false;
    }
    if (gen !== this.generation || this.state !== 'connected') return;
    if (ok === true) { this.failures = 0; return; }
    this.failures += 1;
    this.log.warn('watchdog check failed', { failures: this.failures, why });
    if (this.failures >= this.config.watchdogFailures) {
      this.scheduleRestart(`watchdog: connection silent (${this.failures} failed checks: ${why})`);
    }
  }
}

/** All sessions of this bridge; records persist under <dataDir>/sessions/<name>/session.json. */
export class SessionManager {
  constructor({ config, log, queues, Adapter, factory }) {
    this.config = config;
    this.log = log;
    this.queues = queues;
    this.Adapter = Adapter;
    this.factory = factory;
    this.sessionsDir = path.join(config.dataDir, 'sessions');
    this.sessions = new Map();
    fs.mkdirSync(this.sessionsDir, { recursive: true, mode: 0o700 });
  }

  recordFile(name) { return path.join(this.sessionsDir, name, 'session.json'); }

  saveRecord(record) {
    fs.mkdirSync(path.dirname(this.recordFile(record.name)), { recursive: true, mode: 0o700 });
    writeFileDurable(this.recordFile(record.name), JSON.stringify(record));
  }

  /** Webhook target of a live session (used by the queue at delivery time). */
  target(name) {
    const s = this.sessions.get(name);
    return s ? { url: s.record.webhook_url, secret: s.record.webhook_secret } : null;
  }

  /** Loads saved sessions and starts those not logged out. */
  async resumeAll() {
    for (const name of fs.readdirSync(this.sessionsDir)) {
      if (!NAME_RE.test(name)) continue;
      let record;
      try { record = JSON.parse(fs.readFileSync(this.recordFile(name), 'utf8')); } catch { continue; }
      const s = new Session({ name, record, manager: this });
      this.sessions.set(name, s);
      if (!record.stopped) s.start();
    }
  }

  get(name) { return this.sessions.get(name); }
  list() { return [...this.sessions.values()]; }

  /** POST /sessions/{name}: create, update webhook, or resume. Returns [session, created]. */
  async upsert(name, { webhook_url, webhook_secret }) {
    let s = this.sessions.get(name);
    const created = !s;
    if (!s) {
      const record = { name, webhook_url: null, webhook_secret: null, stopped: false };
      s = new Session({ name, record, manager: this });
      this.sessions.set(name, s);
    }
    s.record.webhook_url = webhook_url ?? s.record.webhook_url ?? this.config.defaultWebhookUrl;
    s.record.webhook_secret = webhook_secret ?? s.record.webhook_secret ?? this.config.defaultWebhookSecret;
    this.saveRecord(s.record);
    if (created || s.state === 'logged_out' || s.state === 'failed') await s.start();
    return [s, created];
  }

  async remove(name) {
    const s = this.sessions.get(name);
    if (!s) return false;
    await s.destroy();
    this.sessions.delete(name);
    fs.rmSync(path.join(this.sessionsDir, name), { recursive: true, force: true });
    return true;
  }

  async shutdown() {
    await Promise.all(this.list().map((s) => s.shutdown()));
  }
}
