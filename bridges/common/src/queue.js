// Durable per-session event queue: one fsync'd file per event, delivered in order, deleted
// only after the appliance answered 2xx. A restart (even kill -9) resumes from the files.
import fs from 'node:fs';
import path from 'node:path';
import { signBody } from './signature.js';

const FILE_RE = /^(\d{16})\.json$/;

function fsyncDir(dir) {
  const fd = fs.openSync(dir, 'r');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}

/** Writes `data` to `file` atomically and durably (tmp + fsync + rename + fsync dir). */
export function writeFileDurable(file, data) {
  const tmp = file + '.tmp';
  const fd = fs.openSync(tmp, 'w', 0o600);
  try { fs.writeSync(fd, data); fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

/** The queue of one session. `target()` gives the current {url, secret} for delivery. */
class SessionQueue {
  constructor({ dir, session, target, opts, log }) {
    this.dir = dir;
    this.session = session;
    this.target = target;
    this.opts = opts;
    this.log = log;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.files = fs.readdirSync(dir).filter((f) => FILE_RE.test(f)).sort();
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.tmp')) fs.rmSync(path.join(dir, f), { force: true });
    const last = this.files.at(-1);
    this.seq = last ? Number(last.slice(0, 16)) : 0;
    this.attempts = 0;
    this.running = false;
    this.timer = null;
    this.closed = false;
  }

  get length() { return this.files.length; }

  /** Persists the event before returning; delivery happens in the background. */
  push(record) {
    this.seq += 1;
    const name = String(this.seq).padStart(16, '0') + '.json';
    writeFileDurable(path.join(this.dir, name), JSON.stringify(record));
    this.files.push(name);
    this.kick();
  }

  kick() {
    if (this.running || this.closed || this.timer) return;
    this.running = true;
    this.drain().finally(() => { this.running = false; });
  }

  async drain() {
    while (!this.closed && this.files.length) {
      const name = this.files[0];
      let record;
      try {
        record = JSON.parse(fs.readFileSync(path.join(this.dir, name), 'utf8'));
      } catch (err) {
        // A torn file cannot happen with rename, but never wedge the queue on one.
        this.log.error('unreadable queued event moved aside', { file: name, err: String(err) });
        fs.renameSync(path.join(this.dir, name), path.join(this.dir, name + '.bad'));
        this.files.shift();
        continue;
      }
      const ok = await this.deliver(record);
      if (this.closed) return;
      if (ok) {
        fs.rmSync(path.join(this.dir, name), { force: true });
        this.files.shift();
        this.attempts = 0;
      } else {
        this.attempts += 1;
        const base = Math.min(this.opts.retryMaxMs, this.opts.retryMinMs * 2 ** Math.min(this.attempts - 1, 30));
        const delay = Math.round(base * (0.8 + Math.random() * 0.2));
        this.timer = setTimeout(() => { this.timer = null; this.kick(); }, delay);
        return;
      }
    }
  }

  async deliver(record) {
    const t = this.target() ?? { url: record.url, secret: record.secret };
    if (!t.url || !t.secret) {
      this.log.warn('no webhook target for session; event kept', { session: this.session });
      return false;
    }
    try {
      const res = await fetch(t.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-bridge-signature': signBody(t.secret, record.body) },
        body: record.body,
        signal: AbortSignal.timeout(this.opts.webhookTimeoutMs),
      });
      await res.arrayBuffer().catch(() => {});
      if (res.status >= 200 && res.status < 300) return true;
      this.log.warn('appliance refused event; will retry', { session: this.session, status: res.status, attempts: this.attempts + 1 });
      return false;
    } catch (err) {
      this.log.warn('webhook delivery failed; will retry', { session: this.session, err: String(err.cause ?? err), attempts: this.attempts + 1 });
      return false;
    }
  }

  close() {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** All sessions' queues under <dataDir>/queue/<session>/. */
export class EventQueues {
  constructor({ dir, opts, log, target }) {
    this.dir = dir;
    this.opts = opts;
    this.log = log;
    this.targetFor = target;
    this.queues = new Map();
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Opens every queue left on disk (sessions that may no longer exist still drain). */
  openAll() {
    for (const name of fs.readdirSync(this.dir)) {
      if (fs.statSync(path.join(this.dir, name)).isDirectory()) this.queue(name).kick();
    }
  }

  queue(session) {
    let q = this.queues.get(session);
    if (!q) {
      q = new SessionQueue({
        dir: path.join(this.dir, session), session, opts: this.opts,
        log: this.log, target: () => this.targetFor(session),
      });
      this.queues.set(session, q);
    }
    return q;
  }

  /** Queues `body` (already serialised JSON string) for `session` with its fallback target. */
  push(session, body, fallback) {
    this.queue(session).push({ body, url: fallback?.url ?? null, secret: fallback?.secret ?? null });
  }

  pending() {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  close() { for (const q of this.queues.values()) q.close(); }
}
