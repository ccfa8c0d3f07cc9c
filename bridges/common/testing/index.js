export { startAppliance, PIXEL_PNG } from './appliance.js';
export { contractSuite, testConfig, api } from './contract.js';
export { spawnBridge } from './process.js';
