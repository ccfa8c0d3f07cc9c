#!/usr/bin/env node
// DashOffice whatsapp-web.js bridge. Configuration: environment (see bridges/README.md).
import { runBridge } from '@dashoffice/bridge-common';
import { bridge } from './index.js';

runBridge(bridge);
