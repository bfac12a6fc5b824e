import { KdaError } from '../errors.js';

/** The data keys of kube-system/extension-apiserver-authentication (written by kube-apiserver). */
export const configMapKeys = Object.freeze({
  clientCA: 'client-ca-file',
  requestHeaderCA: 'requestheader-client-ca-file',
  usernameHeaders: 'requestheader-username-headers',
  uidHeaders: 'requestheader-uid-headers',
  groupHeaders: 'requestheader-group-headers',
  extraHeaderPrefixes: 'requestheader-extra-headers-prefix',
  allowedNames: 'requestheader-allowed-names',
});

/**
 * Go `deserializeStrings`: a missing or empty value is an empty list, otherwise the value must be a JSON array of
 * strings (`null` = empty). Anything else is an error naming the key.
 */
export function deserializeStrings(value: string | undefined, key: string): readonly string[] {
  if (value === undefined || value === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new KdaError('ERR_KDA_TRUST_UNAVAILABLE', `invalid JSON in key "${key}": ${(err as Error).message}`, {
      cause: err,
      details: { check: 'configmap-json', key },
    });
  }
  if (parsed === null) return [];
  if (!Array.isArray(parsed) || !parsed.every((v) => typeof v === 'string')) {
    throw new KdaError(
      'ERR_KDA_TRUST_UNAVAILABLE',
      `key "${key}" must be a JSON array of strings, got ${JSON.stringify(parsed).slice(0, 80)}`,
      { details: { check: 'configmap-json', key } },
    );
  }
  return Object.freeze([...(parsed as string[])]);
}
