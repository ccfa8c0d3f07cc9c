#!/usr/bin/env node
// DashOffice venom-bot bridge. Configuration: environment (see bridges/README.md).
import { runBridge } from '@dashoffice/bridge-common';
import { bridge } from './index.js';

runBridge(bridge);
