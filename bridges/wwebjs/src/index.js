import { WwebjsAdapter } from './adapter.js';
import { realFactory } from './client.js';
import { fakeFactory } from './fake.js';

/** The whatsapp-web.js bridge definition for startBridge/runBridge. */
export const bridge = { kind: 'wwebjs', Adapter: WwebjsAdapter, realFactory, fakeFactory };
