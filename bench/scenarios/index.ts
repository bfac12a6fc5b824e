import { bareHttps, bareKoa } from './baseline.js';
import type { Scenario } from './types.js';

/** In run order: baselines first so every ratio in one run has its denominator. */
export const scenarios: readonly Scenario[] = [bareHttps, bareKoa];
