import { X509Certificate } from 'node:crypto';
import { KdaError } from '../errors.js';
import { certificateFields } from './certificate-fields.js';

const blockRe = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;

/** A parsed PEM bundle: the certificates and the normalised PEM text (one block each, joined by newlines). */
export interface ParsedPemBundle {
  readonly pem: string;
  readonly certificates: readonly X509Certificate[];
}

/**
 * Parses a PEM bundle of CERTIFICATE blocks the way Go's `cert.ParseCertsPEM` does: non-certificate blocks are
 * skipped, text between blocks is ignored, an unparsable certificate fails the whole bundle, and a bundle without
 * any certificate is an error. `source` names the bundle in error messages (a file path, a ConfigMap key).
 */
export function parsePemBundle(text: string | Buffer, source = 'PEM bundle'): ParsedPemBundle {
  const s = typeof text === 'string' ? text : text.toString('utf8');
  const certificates: X509Certificate[] = [];
  const blocks: string[] = [];
  let index = 0;
  for (const m of s.matchAll(blockRe)) {
    index++;
    const [, begin, body, end] = m;
    if (begin !== end) {
      throw pemError(source, `block ${index} begins with "${begin}" but ends with "${end}"`);
    }
    if (begin !== 'CERTIFICATE') continue;
    const base64 = body!.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length === 0) {
      throw pemError(source, `certificate block ${index} is not valid base64`);
    }
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(Buffer.from(base64, 'base64'));
    } catch (err) {
      throw pemError(source, `certificate block ${index} cannot be parsed: ${(err as Error).message}`, err);
    }
    // Go's cert.ParseCertsPEM uses x509.ParseCertificate, far stricter than OpenSSL: a bundle Go cannot load is invalid.
    const malformed = certificateFields(cert).malformed;
    if (malformed !== undefined) throw pemError(source, `certificate block ${index} cannot be parsed: ${malformed}`);
    certificates.push(cert);
    blocks.push(cert.toString().trim());
  }
  if (certificates.length === 0) {
    throw pemError(source, 'data does not contain any valid RSA or ECDSA certificates');
  }
  return { pem: blocks.join('\n') + '\n', certificates };
}

function pemError(source: string, what: string, cause?: unknown): KdaError {
  return new KdaError('ERR_KDA_TRUST_UNAVAILABLE', `invalid CA bundle ${source}: ${what}`, {
    cause,
    details: { caName: source, check: 'pem' },
  });
}
