import { anchorGo } from './anchor.js';
import { bareHttps, bareKoa } from './baseline.js';
import { coldBurst } from './cold-burst.js';
import { fullStack } from './full-stack.js';
import { memory } from './memory.js';
import { micro } from './micro.js';
import { perConnection } from './per-connection.js';
import type { Scenario } from './types.js';

/** Throughput scenarios (prepare) are measured together in interleaved rounds; checks (run) follow one by one. */
export const scenarios: readonly Scenario[] = [
  bareHttps,
  bareKoa,
  fullStack,
  perConnection,
  anchorGo,
  coldBurst,
  memory,
  micro,
];
