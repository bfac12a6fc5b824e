// Client certificates with one TBS field replaced and re-signed by the issuing CA, so that only the replaced field
// is wrong: the shared helpers of the certificate-field, certificate-fuzz and spoof-matrix specs (on spec/support/
// der.ts).
import {
  clientTbs,
  generalizedTime,
  generalizedTimeText,
  seq,
  signerOf,
  signTbs,
  tbsDer,
  utcTime,
  utcTimeText,
  type Signer,
  type TbsParts,
} from './der.js';
import type { TestCert } from './pki.js';

/** A well-formed client-certificate TBS for one subject and issuer, and re-signed copies of it with parts replaced. */
export interface ClientCertTemplate {
  readonly signer: Signer;
  /** The unmutated parts (v3, clientAuth, valid `now` ± a day). */
  readonly base: TbsParts;
  /** The certificate DER of `base` with `change` applied, signed by the CA (with `algorithm` when given). */
  der(change?: Partial<TbsParts>, algorithm?: Buffer): Buffer;
}

/** The template for `cn` issued by `ca`, with the public key `publicKeyPem`. */
export function clientCertTemplate(ca: TestCert, publicKeyPem: string, cn: string, now: number): ClientCertTemplate {
  const signer = signerOf(ca);
  const base = clientTbs(signer, publicKeyPem, cn, now);
  return { signer, base, der: (change = {}, algorithm) => signTbs(tbsDer({ ...base, ...change }), signer, algorithm) };
}

/** The validity part from its two times (each complete DER, of any tag). */
export const validity = (notBefore: Buffer, notAfter: Buffer): Pick<TbsParts, 'validity'> => ({
  validity: seq(notBefore, notAfter),
});

/** `d` as a UTCTime element (YYMMDDHHMMSSZ). */
export const utcTimeOf = (d: Date) => utcTime(utcTimeText(d));

/** `d` as a GeneralizedTime element (YYYYMMDDHHMMSSZ). */
export const generalizedTimeOf = (d: Date) => generalizedTime(generalizedTimeText(d));

/** A DER certificate as a PEM block. */
export const certificatePem = (der: Buffer) =>
  `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
