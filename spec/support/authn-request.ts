import type { X509Certificate } from 'node:crypto';
import type { AuthnRequest } from '../../lib/authn/interfaces.js';

/**
 * An in-memory AuthnRequest for pure unit tables (header parsing, unions): header lines in arrival order, names
 * case-insensitive, as lib/http builds from a real request.
 */
export function fakeRequest(
  lines: readonly (readonly [string, string])[] = [],
  peerCertificates: readonly X509Certificate[] = [],
  connection?: object,
): AuthnRequest {
  return {
    method: 'GET',
    url: '/',
    header: (name) => lines.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v),
    headerNames: () => [...new Set(lines.map(([n]) => n.toLowerCase()))],
    peerCertificates,
    connection,
  };
}
