// How the adapter gets its whatsapp-web.js client: the real library (system Chromium via
// PUPPETEER_EXECUTABLE_PATH, never a downloaded one), or (BRIDGE_FAKE=1) a fake.
import { createRequire } from 'node:module';
import path from 'node:path';
import { assertBrowser } from '@dashoffice/bridge-common';

export async function realFactory(config) {
  const require = createRequire(import.meta.url);
  const { Client, LocalAuth, MessageMedia } = require('whatsapp-web.js');
  assertBrowser(config.chromiumPath);
  return {
    MessageMedia,
    createClient: ({ clientId, dataPath, executablePath }) => {
      assertBrowser(executablePath);
      return new Client({
        authStrategy: new LocalAuth({ clientId, dataPath }),
        // The default cache is ./.wwebjs_cache in the (read-only under systemd) working dir.
        webVersionCache: { type: 'local', path: path.join(config.dataDir, 'wwebjs_cache') },
        puppeteer: {
          executablePath, headless: true,
          args: ['--no-sandbox', '--disable-setuid-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
        },
      });
    },
  };
}
