import type { HeaderValues } from '../load.js';
import type { ServerConfig } from '../servers/child.js';
import { allowedGroup } from '../review-peer.js';
import type { BenchContext } from './types.js';

/**
 * The authorized request every throughput scenario sends: a resource list (→ resource SAR). `resourceVersion=0` lets
 * the Go sample-apiserver answer from its watch cache, so the anchor does no etcd round trip either.
 */
export const flundersPath = '/apis/wardle.example.com/v1alpha1/namespaces/default/flunders?resourceVersion=0';
export const allowedHeaders: HeaderValues = {
  'x-remote-user': 'bench-user',
  'x-remote-group': [allowedGroup, 'system:authenticated'],
};
export const deniedHeaders: HeaderValues = {
  'x-remote-user': 'bench-denied-user',
  'x-remote-group': ['system:authenticated'],
};

/** Server config on the bench's own dev PKI (no cluster). */
export function localConfig(ctx: BenchContext, extra: Partial<ServerConfig> = {}): ServerConfig {
  return {
    servingCertFile: ctx.pki.servingCertFile,
    servingKeyFile: ctx.pki.servingKeyFile,
    clientCaFile: ctx.pki.clientCaFile,
    requestheaderClientCaFile: ctx.pki.requestheaderClientCaFile,
    requestheaderAllowedNames: ['front-proxy-client'],
    ...extra,
  };
}
