// How the adapter gets its venom client: the real library (system Chromium via
// PUPPETEER_EXECUTABLE_PATH, never a downloaded one), or (BRIDGE_FAKE=1) a fake.
import { createRequire } from 'node:module';

export async function realFactory(config) {
  const require = createRequire(import.meta.url);
  const venom = require('venom-bot');
  if (!config.chromiumPath) throw new Error('PUPPETEER_EXECUTABLE_PATH must point to the system Chromium');
  return { create: (options) => venom.create(options) };
}
