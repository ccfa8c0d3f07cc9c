// How the adapter gets its venom client: the real library (system Chromium via
// PUPPETEER_EXECUTABLE_PATH, never a downloaded one), or (BRIDGE_FAKE=1) a fake.
import { createRequire } from 'node:module';
import { assertBrowser } from '@dashoffice/bridge-common';

export async function realFactory(config) {
  const require = createRequire(import.meta.url);
  const venom = require('venom-bot');
  assertBrowser(config.chromiumPath);
  return {
    create: async (options) => {
      assertBrowser(options.browserPathExecutable); // never let venom fall back to downloading Chrome
      return venom.create(options);
    },
  };
}
