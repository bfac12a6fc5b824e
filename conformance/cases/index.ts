import type { ConformanceCase } from '../types.js';
import { aggregatorCases } from './aggregator.js';
import { healthCases } from './health.js';
import { identityCases } from './identity.js';
import { manifestCases } from './manifests.js';
import { probeCases } from './probe.js';
import { spoofingCases } from './spoofing.js';
import { trustCases } from './trust.js';

/** Every case, in run order: manifests, upstream's aggregator steps (setup), then the cases upstream lacks. */
export const allCases: readonly ConformanceCase[] = [
  ...manifestCases,
  ...aggregatorCases,
  ...identityCases,
  ...spoofingCases,
  ...healthCases,
  // The generic any-backend checks of `kube-delegated-auth conformance`.
  ...probeCases,
  // Last: they change cluster state (RBAC, kube-apiserver restart).
  ...trustCases,
];
