import { contractSuite } from '@dashoffice/bridge-common/testing';
import { bridge } from '../src/index.js';

contractSuite(bridge);
