import { adapters } from './adapters.js';
import { anchorGo } from './anchor.js';
import { cacheMiss } from './cache-miss.js';
import { coldBurst } from './cold-burst.js';
import { memory } from './memory.js';
import { micro } from './micro.js';
import { perConnection } from './per-connection.js';
import { startup } from './startup.js';
import type { Scenario } from './types.js';

/** Throughput scenarios (prepare) are measured together in interleaved rounds; checks (run) follow one by one. */
export const scenarios: readonly Scenario[] = [
  adapters,
  perConnection,
  anchorGo,
  cacheMiss,
  coldBurst,
  memory,
  startup,
  micro,
];
