// Entry point shared by the three bridges: `runBridge(definition)` from each bridge's main.js.
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from './config.js';
import { makeLogger } from './log.js';
import { EventQueues } from './queue.js';
import { SessionManager } from './session.js';
import { createServer } from './server.js';

export { loadConfig } from './config.js';
export { signBody } from './signature.js';
export * from './content.js';
export { NotConnected } from './session.js';

/**
 * Builds and starts a bridge. `definition` = { kind, Adapter, realFactory(config) -> factory,
 * fakeFactory(config) -> factory with control(name) }. Returns { port, close(), sessions, queues }.
 */
export async function startBridge(definition, config = loadConfig()) {
  const log = makeLogger(config.logLevel, { bridge: definition.kind });
  const factory = config.fake ? definition.fakeFactory(config) : await definition.realFactory(config);
  let sessions;
  const queues = new EventQueues({
    dir: path.join(config.dataDir, 'queue'),
    opts: config, log, target: (name) => sessions.target(name),
  });
  sessions = new SessionManager({ config, log, queues, Adapter: definition.Adapter, factory });
  queues.openAll();
  await sessions.resumeAll();
  const server = createServer({ config, sessions, factory, log });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  const port = server.address().port;
  log.info('bridge listening', { host: config.host, port, fake: config.fake, dataDir: config.dataDir });
  return {
    port, sessions, queues, factory,
    async close() {
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
      await sessions.shutdown();
      queues.close();
    },
  };
}

/**
 * Throws unless `p` is an executable browser. Called before every Puppeteer launch: when the
 * path is wrong, venom-bot would otherwise try to download Chrome (curl + sudo dpkg) and
 * crash the process from a callback.
 */
export function assertBrowser(p) {
  if (!p) throw new Error('PUPPETEER_EXECUTABLE_PATH must point to the system Chromium');
  try { fs.accessSync(p, fs.constants.X_OK); } catch {
    throw new Error(`no executable browser at PUPPETEER_EXECUTABLE_PATH=${p}`);
  }
}

/** CLI wrapper: starts the bridge and shuts it down cleanly on SIGTERM/SIGINT. */
export async function runBridge(definition) {
  // Browser libraries leak rejected promises (closed pages, detached frames); the watchdog
  // deals with the session, the process must not die for it. A thrown exception still does.
  process.on('unhandledRejection', (err) => {
    process.stderr.write(JSON.stringify({ t: new Date().toISOString(), level: 'error', msg: 'unhandled rejection', bridge: definition.kind, err: String(err?.stack ?? err) }) + '\n');
  });
  let bridge;
  try {
    bridge = await startBridge(definition);
  } catch (err) {
    process.stderr.write(`dashoffice ${definition.kind} bridge: ${err?.message ?? err}\n`);
    process.exit(1);
  }
  // Tests and the appliance's E2E test read this line to learn the port (PORT=0).
  process.stdout.write(JSON.stringify({ listening: bridge.port }) + '\n');
  const stop = async () => {
    await bridge.close().catch(() => {});
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
