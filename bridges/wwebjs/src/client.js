// How the adapter gets its whatsapp-web.js client: the real library (system Chromium via
// PUPPETEER_EXECUTABLE_PATH, never a downloaded one), or (BRIDGE_FAKE=1) a fake.
import { createRequire } from 'node:module';

export async function realFactory(config) {
  const require = createRequire(import.meta.url);
  const { Client, LocalAuth, MessageMedia } = require('whatsapp-web.js');
  if (!config.chromiumPath) throw new Error('PUPPETEER_EXECUTABLE_PATH must point to the system Chromium');
  return {
    MessageMedia,
    createClient: ({ clientId, dataPath, executablePath }) => new Client({
      authStrategy: new LocalAuth({ clientId, dataPath }),
      puppeteer: {
        executablePath, headless: true,
        args: ['--no-sandbox', '--disable-setuid-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
      },
    }),
  };
}
