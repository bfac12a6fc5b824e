// DER certificate mutation (issue 10, finding 3). Real certificates from the test PKI, with their fields replaced by
// generated values (serial, validity, names, version, extensions: basicConstraints, keyUsage, EKU, pathLen, SAN,
// critical flags, duplicates) or their bytes mutated (lengths, tags, truncation). Mutated TBS bytes are re-signed
// with the CA key so the signature passes and the field checks themselves are exercised; byte mutations of a signed
// certificate keep the broken signature. Properties:
// - nothing throws: the DER reader, verifyClientChain and the x509 / front-proxy authenticators always answer;
// - nothing is accepted that Go's crypto/x509 (ParseCertificate + Verify with clientAuth, as k8s.io/apiserver calls
//   it; spec/support/go-x509, built with the local Go toolchain) does not accept;
// - a certificate whose signature no longer verifies is never accepted.
import { expect } from 'chai';
import { createHash, createPrivateKey, type X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { secureRequestHeaderAuthenticator } from '../../lib/authn/request-header.js';
import { x509Authenticator } from '../../lib/authn/x509.js';
import { parseCertificateFields } from '../../lib/trust/certificate-fields.js';
import { staticCABundle, staticRequestHeaderConfig } from '../../lib/trust/static.js';
import { verifyClientChain } from '../../lib/trust/verify-chain.js';
import { fakeRequest } from '../support/authn-request.js';
import {
  bitString,
  bool,
  clientTbs,
  explicit,
  extension,
  generalizedTime,
  generalizedTimeText,
  integer,
  name,
  octets,
  OID,
  oid,
  seq,
  signTbs,
  tbsDer,
  tlv,
  utcTime,
  utcTimeText,
  x509OrUndefined,
  type Signer,
  type TbsParts,
} from '../support/der.js';
import { clientCertTemplate, generalizedTimeOf, utcTimeOf } from '../support/mutated-cert.js';
import { goX509, type GoX509Batch } from '../support/go-x509.js';
import { testPki } from '../support/pki.js';
import { fuzzParams, fuzzTimeout } from './runs.js';

const pki = testPki();
const caDer = pki.clientCA.x509.raw;
const bundle = { certificates: [pki.clientCA.x509] };
const clientCA = staticCABundle(pki.clientCA.certPem, 'client-ca::fuzz');
const now = Date.now();
const day = 24 * 60 * 60 * 1000;
const template = clientCertTemplate(pki.clientCA, pki.sharedKey.publicKeyPem, 'fuzz-user', now);
const { base, signer } = template;

// ---- field generators: each yields complete DER for one TBS part ----

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));

const serialArb = fc.oneof(
  fc.bigInt({ min: -(1n << 160n), max: 1n << 160n }).map((v) => integer(v)),
  fc.constantFrom(integer(0), integer(-1), integer(1), integer(-(1n << 63n))),
  bytes(24).map((b) => tlv(0x02, b)), // any content: empty, non-minimal, huge
  bytes(4).map((b) => tlv(0x02, Buffer.concat([Buffer.from([0x00]), b]))), // leading 0x00
  bytes(4).map((b) => tlv(0x02, Buffer.concat([Buffer.from([0xff]), b]))), // leading 0xff
  bytes(8).map((b) => tlv(0x04, b)), // wrong tag
);

const dateArb = fc.date({
  min: new Date('1950-01-01T00:00:00Z'),
  max: new Date('2049-12-31T23:59:59Z'),
  noInvalidDate: true,
});
const nearNow = fc.integer({ min: -3 * day, max: 3 * day }).map((d) => new Date(now + d));
const timeText = fc.string({ unit: fc.constantFrom(...'0123456789Z+-.: T'.split('')), maxLength: 20 });
const timeArb = fc.oneof(
  fc.oneof(dateArb, nearNow).map((d) => utcTimeOf(d)),
  fc.oneof(dateArb, nearNow).map((d) => generalizedTimeOf(d)),
  nearNow.map((d) => utcTime(utcTimeText(d).slice(0, 10) + 'Z')), // without seconds
  nearNow.map((d) => generalizedTime(generalizedTimeText(d).replace('Z', '.5Z'))),
  fc
    .tuple(nearNow, fc.constantFrom('+0100', '-0130', '+0000', '-0000', '+2400', '+2460', '+9999'))
    .map(([d, z]) => utcTime(utcTimeText(d).replace('Z', z))),
  timeText.map((t) => utcTime(t)),
  timeText.map((t) => generalizedTime(t)),
  fc.tuple(fc.constantFrom(0x02, 0x04, 0x13, 0x0c, 0x30), timeText).map(([tag, t]) => tlv(tag, Buffer.from(t))),
  fc.constantFrom(
    utcTime('250230000000Z'), // 30 February
    utcTime('251301000000Z'),
    utcTime('250101240000Z'),
    utcTime('250101000060Z'),
    generalizedTime('20250101000000.10Z'),
    generalizedTime('20250101000000.Z'),
    generalizedTime('2025010100000Z'),
  ),
);
const validityArb = fc.oneof(
  fc.tuple(timeArb, timeArb).map(([a, b]) => seq(a, b)),
  timeArb.map((a) => seq(a)),
  fc.tuple(timeArb, timeArb).map(([a, b]) => tlv(0x31, a, b)),
);

const stringTag = fc.constantFrom(0x0c, 0x13, 0x16, 0x12, 0x14, 0x1e, 0x1c, 0x02, 0x04, 0x30);
const nameArb = fc.oneof(
  fc
    .tuple(stringTag, fc.oneof(bytes(12), fc.constantFrom('fuzz-user', 'a@b', 'a_b', 'ok name', 'x*y&z')))
    .map(([tag, v]) => name([OID.cn, tag, typeof v === 'string' ? Buffer.from(v) : v])),
  fc
    .tuple(fc.constantFrom(OID.cn, OID.o, '1.3.6.1.4.1.57683.2', '2.5.4.3.1'), stringTag, bytes(8))
    .map(([o, tag, v]) => name([OID.cn, 0x0c, 'fuzz-user'], [o, tag, v])),
  bytes(16).map((b) => seq(tlv(0x31, b))),
  fc.constantFrom(seq(), seq(tlv(0x31)), seq(tlv(0x31, seq(tlv(0x06, Buffer.from([0x80, 0x01])), tlv(0x0c))))),
);

const booleanDer = fc.oneof(
  fc.boolean().map(bool),
  fc.constantFrom(0x01, 0x7f, 0x80, 0xfe).map((b) => tlv(0x01, Buffer.from([b]))),
  bytes(3).map((b) => tlv(0x01, b)),
);
const pathLenDer = fc.oneof(
  fc.integer({ min: -3, max: 5 }).map((n) => integer(n)),
  bytes(10).map((b) => tlv(0x02, b)),
);
const criticalArb = fc.constantFrom<boolean | undefined>(undefined, false, true);
const ekuOid = fc.oneof(
  fc.constantFrom(OID.clientAuth, OID.serverAuth, OID.anyEKU, '1.2.3.4').map(oid),
  bytes(6).map((b) => tlv(0x06, b)),
);

const extensionArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .tuple(criticalArb, fc.option(booleanDer, { nil: undefined }), fc.option(pathLenDer, { nil: undefined }))
    .map(([c, ca, len]) => extension(OID.basicConstraints, c, seq(...(ca ? [ca] : []), ...(len ? [len] : [])))),
  fc
    .tuple(criticalArb, fc.integer({ min: 0, max: 9 }), bytes(6))
    .map(([c, unused, b]) => extension(OID.keyUsage, c, bitString(unused, b))),
  fc
    .tuple(criticalArb, fc.array(ekuOid, { maxLength: 3 }))
    .map(([c, oids]) => extension(OID.extKeyUsage, c, seq(...oids))),
  fc
    .tuple(criticalArb, fc.constantFrom(0x81, 0x82, 0x86, 0x87, 0xa0, 0xa4), bytes(8))
    .map(([c, tag, b]) => extension(OID.subjectAltName, c, seq(tlv(tag, b)))),
  fc.tuple(criticalArb, bytes(8)).map(([c, b]) => extension(OID.subjectKeyId, c, octets(b))),
  fc.tuple(criticalArb, bytes(8)).map(([c, b]) => extension(OID.authorityKeyId, c, seq(tlv(0x80, b)))),
  fc.tuple(criticalArb, bytes(4)).map(([c, b]) => extension('1.2.3.4.5', c, octets(b))),
  fc
    .tuple(fc.constantFrom(OID.keyUsage, OID.basicConstraints, '1.2.3'), bytes(10))
    .map(([o, b]) => seq(oid(o), tlv(0x04, b))),
  bytes(12).map((b) => seq(b)), // an extension that is not one
);

const versionArb = fc.oneof(
  fc.integer({ min: -1, max: 4 }).map((v) => explicit(0, integer(v))),
  fc.constant(null),
  bytes(3).map((b) => explicit(0, tlv(0x02, b))),
);

type Mutation = Partial<Omit<TbsParts, 'extensions'>> & { extensions?: readonly Buffer[] | null };

const extensionsArb = fc.oneof(
  fc.array(extensionArb, { minLength: 1, maxLength: 3 }).map((extra) => [...base.extensions!, ...extra]),
  fc
    .tuple(fc.nat(base.extensions!.length - 1), extensionArb)
    .map(([i, e]) => base.extensions!.map((x, j) => (j === i ? e : x))),
  fc.constant(null),
);

/** Usually one TBS part replaced by generated DER (so most mutations get past OpenSSL), sometimes several. */
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  versionArb.map((version) => ({ version })),
  serialArb.map((serial) => ({ serial })),
  { arbitrary: validityArb.map((validity) => ({ validity })), weight: 3 },
  { arbitrary: nameArb.map((subject) => ({ subject })), weight: 2 },
  nameArb.map((issuer) => ({ issuer })),
  { arbitrary: extensionsArb.map((extensions) => ({ extensions })), weight: 4 },
  bytes(6).map((b) => ({ trailer: tlv(0x04, b) })),
  fc.record(
    { version: versionArb, serial: serialArb, validity: validityArb, subject: nameArb, extensions: extensionsArb },
    { requiredKeys: [] },
  ),
);

const frontProxy = secureRequestHeaderAuthenticator({
  caProvider: clientCA,
  configProvider: staticRequestHeaderConfig({ allowedNames: [] }),
});
const x509 = x509Authenticator({ caProvider: clientCA });

/** Every way the library judges this certificate; nothing may throw. Returns whether anything accepted it. */
async function judge(cert: X509Certificate): Promise<boolean> {
  const verdict = verifyClientChain(cert, [], bundle, now);
  const a = await x509.authenticateRequest(fakeRequest([], [cert]));
  const b = await frontProxy.authenticateRequest(fakeRequest([['X-Remote-User', 'mallory']], [cert]));
  // The verdict and both authenticators agree on acceptance (x509 may still decline an empty CN: no opinion).
  if (!verdict.ok) {
    expect(a.ok, 'x509 accepted what verifyClientChain refused').to.equal(false);
    expect(b.ok, 'front proxy accepted what verifyClientChain refused').to.equal(false);
    expect(b.ok === false && b.error !== undefined, 'a refused certificate is an error (401), not anonymous').to.equal(
      true,
    );
  }
  return verdict.ok || a.ok || b.ok;
}

describe('fuzz: DER client certificates (mutated fields re-signed, mutated bytes)', function () {
  let go: GoX509Batch | undefined;
  /** A Go toolchain that is installed but cannot build the oracle fails the Go tests, not the others. */
  let goBroken: Error | undefined;
  before(async function () {
    this.timeout(240_000); // a cold Go build cache compiles crypto/x509 once
    go = await goX509().then(
      (x) => x?.startBatch(),
      (err: Error) => {
        goBroken = err;
        return undefined;
      },
    );
  });
  after(() => go?.close());

  it('the unmutated template verifies, in Go and here (the generators start from a valid certificate)', async () => {
    const der = template.der();
    const cert = x509OrUndefined(der)!;
    expect(await judge(cert)).to.equal(true);
    if (go) expect(await go.verify(der, [], [caDer], now)).to.deep.equal({ ok: true });
  });

  it('mutated TBS fields, re-signed: the DER reader never throws, no authenticator throws', async function () {
    this.timeout(fuzzTimeout(300, 15));
    await fc.assert(
      fc.asyncProperty(mutationArb, async (m) => {
        const der = template.der(m);
        parseCertificateFields(der); // never throws, OpenSSL or not
        const cert = x509OrUndefined(der);
        if (cert) await judge(cert);
      }),
      fuzzParams(300),
    );
  });

  it('mutated TBS fields, re-signed: nothing is accepted that Go does not accept (differential against crypto/x509)', async function () {
    if (goBroken) throw goBroken;
    if (!go) this.skip(); // no Go toolchain: the other properties and the named cases still run
    this.timeout(fuzzTimeout(300, 20));
    const seen = { accepted: 0, refusedByBoth: 0, refusedOnlyHere: 0 };
    const stricter: string[] = [];
    await fc.assert(
      fc.asyncProperty(mutationArb, async (m) => {
        const der = template.der(m);
        const cert = x509OrUndefined(der);
        if (!cert) return; // OpenSSL refuses it: it never reaches the library
        const accepted = await judge(cert);
        const reference = await go!.verify(der, [], [caDer], now);
        if (accepted) {
          expect(reference, 'accepted here, refused by Go').to.deep.equal({ ok: true });
          seen.accepted++;
        } else if (reference.ok) {
          seen.refusedOnlyHere++;
          stricter.push(verifyClientChain(cert, [], bundle, now).ok ? 'x509 no opinion' : der.toString('base64'));
        } else seen.refusedByBoth++;
      }),
      fuzzParams(300),
    );
    // Both sides of the property are exercised: some mutations verify in Go and here, some are refused by both.
    expect(seen.accepted, JSON.stringify(seen)).to.be.greaterThan(0);
    expect(seen.refusedByBoth, JSON.stringify(seen)).to.be.greaterThan(0);
    if (process.env.KDA_FUZZ_REPORT) console.log(JSON.stringify(seen), stricter.slice(0, 3));
  });

  it('random byte mutations of a signed certificate (lengths, tags, truncation): never accepted, never a throw', async function () {
    this.timeout(fuzzTimeout(300, 10));
    const original = pki.alice.x509.raw;
    const op = fc.oneof(
      fc.tuple(fc.constant('set' as const), fc.nat(original.length - 1), fc.integer({ min: 0, max: 255 })),
      fc.tuple(fc.constant('insert' as const), fc.nat(original.length), fc.integer({ min: 0, max: 255 })),
      fc.tuple(fc.constant('delete' as const), fc.nat(original.length - 1), fc.constant(0)),
      fc.tuple(fc.constant('truncate' as const), fc.nat(original.length - 1), fc.constant(0)),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 3 }), async (ops) => {
        let der = Buffer.from(original);
        for (const [kind, at, value] of ops) {
          const i = Math.min(at, der.length);
          if (kind === 'set' && i < der.length) der[i] = value;
          else if (kind === 'insert') der = Buffer.concat([der.subarray(0, i), Buffer.from([value]), der.subarray(i)]);
          else if (kind === 'delete') der = Buffer.concat([der.subarray(0, i), der.subarray(i + 1)]);
          else if (kind === 'truncate') der = der.subarray(0, i);
        }
        parseCertificateFields(der);
        const cert = x509OrUndefined(der);
        // OpenSSL re-encodes the outer envelope: a mutation it normalises away leaves the original certificate.
        if (!cert || cert.raw.equals(original)) return;
        expect(await judge(cert), 'a certificate whose bytes changed after signing was accepted').to.equal(false);
      }),
      fuzzParams(300),
    );
  });

  it('random byte mutations of the TBS, re-signed: never a throw; accepted only where Go accepts', async function () {
    this.timeout(fuzzTimeout(300, 20));
    const tbs = tbsDer(base);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(tbs.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
        async (edits) => {
          const mutated = Buffer.from(tbs);
          for (const [at, value] of edits) mutated[at] = value;
          const der = signTbs(mutated, signer);
          parseCertificateFields(der);
          const cert = x509OrUndefined(der);
          if (!cert) return;
          const accepted = await judge(cert);
          if (accepted && go) {
            expect(await go.verify(der, [], [caDer], now), 'accepted here, refused by Go').to.deep.equal({ ok: true });
          }
        },
      ),
      fuzzParams(300),
    );
  });

  it('mutated intermediate CA extensions (CA flag, pathLen, keyCertSign, EKU, critical, name constraints): accepted only where Go accepts', async function () {
    if (goBroken) throw goBroken;
    if (!go) this.skip(); // the chain property is a differential: without Go it has no reference
    this.timeout(fuzzTimeout(200, 40));
    const sharedKey = createPrivateKey(pki.sharedKey.privateKeyPem);
    const caExtension: fc.Arbitrary<Buffer> = fc.oneof(
      fc
        .tuple(criticalArb, fc.option(booleanDer, { nil: undefined }), fc.option(pathLenDer, { nil: undefined }))
        .map(([c, ca, len]) => extension(OID.basicConstraints, c, seq(...(ca ? [ca] : []), ...(len ? [len] : [])))),
      fc
        .tuple(criticalArb, fc.integer({ min: 0, max: 7 }), fc.constantFrom(0x06, 0x04, 0x02, 0x80, 0x84, 0x00))
        .map(([c, unused, b]) => extension(OID.keyUsage, c, bitString(unused, Buffer.from([b & (0xff << unused)])))),
      fc
        .tuple(criticalArb, fc.array(ekuOid, { maxLength: 2 }))
        .map(([c, oids]) => extension(OID.extKeyUsage, c, seq(...oids))),
      fc.tuple(criticalArb, bytes(4)).map(([c, b]) => extension('1.2.3.4.5', c, octets(b))),
      fc
        .tuple(criticalArb, fc.constantFrom(0x82, 0x87, 0xa4), bytes(8))
        .map(([c, tag, b]) => extension('2.5.29.30', c, seq(explicit(0, seq(tlv(tag, b)))))),
    );
    const seen = { accepted: 0, refusedByBoth: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(caExtension, { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        fc.boolean(),
        async (caExtensions, twoLevels, leafHasSan) => {
          // client CA → intermediate (mutated) [→ second, ordinary intermediate] → leaf; all but the CA share a key.
          const issue = (issuer: Signer, cn: string, extensions: readonly Buffer[]) => {
            const tbs = clientTbs(issuer, pki.sharedKey.publicKeyPem, cn, now);
            const skid = createHash('sha1').update(cn).digest();
            const der = signTbs(
              tbsDer({
                ...tbs,
                serial: integer(BigInt('0x' + skid.subarray(0, 8).toString('hex'))),
                extensions: [
                  ...extensions,
                  extension(OID.subjectKeyId, undefined, octets(skid)),
                  extension(OID.authorityKeyId, undefined, seq(tlv(0x80, issuer.subjectKeyId))),
                ],
              }),
              issuer,
            );
            const next: Signer = { key: sharedKey, subject: tbs.subject, subjectKeyId: skid };
            return { der, signer: next };
          };
          const caBase = [
            extension(OID.basicConstraints, true, seq(bool(true))),
            extension(OID.keyUsage, true, bitString(1, Buffer.from([0x06]))),
          ];
          const replaced = new Set(caExtensions.map((e) => e.subarray(0, 12).toString('hex')));
          const first = issue(signer, 'fuzz-intermediate-1', [
            ...caBase.filter((e) => !replaced.has(e.subarray(0, 12).toString('hex'))),
            ...caExtensions,
          ]);
          const chain = [first];
          if (twoLevels) chain.push(issue(first.signer, 'fuzz-intermediate-2', caBase));
          const leafExtensions = [
            extension(OID.basicConstraints, true, seq()),
            extension(OID.extKeyUsage, undefined, seq(oid(OID.clientAuth))),
            ...(leafHasSan ? [extension(OID.subjectAltName, undefined, seq(tlv(0x82, Buffer.from('a.example'))))] : []),
          ];
          const leaf = issue(chain.at(-1)!.signer, 'fuzz-leaf', leafExtensions);
          const leafCert = x509OrUndefined(leaf.der);
          const intermediates = chain.map((c) => x509OrUndefined(c.der));
          if (!leafCert || intermediates.some((c) => !c)) return;
          const verdict = verifyClientChain(leafCert, intermediates as X509Certificate[], bundle, now);
          const reference = await go!.verify(
            leaf.der,
            chain.map((c) => c.der),
            [caDer],
            now,
          );
          if (verdict.ok) {
            expect(reference, 'chain accepted here, refused by Go').to.deep.equal({ ok: true });
            seen.accepted++;
          } else if (!reference.ok) seen.refusedByBoth++;
        },
      ),
      {
        ...fuzzParams(200),
        // Found by this property (CI, Node 22): a permitted dNSName "." (Go 1.26 refuses the trailing dot before it
        // drops the leading one); kept as a fixed example.
        examples: [[[Buffer.from([48, 16, 6, 3, 85, 29, 30, 4, 9, 48, 7, 160, 5, 48, 3, 130, 1, 46])], false, false]],
      },
    );
    expect(seen.accepted, JSON.stringify(seen)).to.be.greaterThan(0);
    expect(seen.refusedByBoth, JSON.stringify(seen)).to.be.greaterThan(0);
    if (process.env.KDA_FUZZ_REPORT) console.log(JSON.stringify(seen));
  });

  it('the parsers on their own: arbitrary bytes never throw', () => {
    fc.assert(
      fc.property(bytes(600), (b) => {
        const f = parseCertificateFields(b);
        expect(f.malformed).to.be.a('string');
      }),
      fuzzParams(500),
    );
  });
});
