import { BaileysAdapter } from './adapter.js';
import { realFactory } from './client.js';
import { fakeFactory } from './fake.js';

/** The Baileys bridge definition for startBridge/runBridge. */
export const bridge = { kind: 'baileys', Adapter: BaileysAdapter, realFactory, fakeFactory };
