import { VenomAdapter } from './adapter.js';
import { realFactory } from './client.js';
import { fakeFactory } from './fake.js';

/** The venom-bot bridge definition for startBridge/runBridge. */
export const bridge = { kind: 'venom', Adapter: VenomAdapter, realFactory, fakeFactory };
