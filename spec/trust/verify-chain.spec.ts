import { expect } from 'chai';
import type { X509Certificate } from 'node:crypto';
import { createCertificate } from '../../lib/dev-pki/index.js';
import type { CABundle } from '../../lib/trust/interfaces.js';
import {
  chainVerifierStats,
  verifyClientChain,
  verifyClientChainCached,
  type ChainCheck,
} from '../../lib/trust/verify-chain.js';
import { parsePemBundle } from '../../lib/trust/pem.js';
import { testCert, testPki, type TestCert } from '../support/pki.js';

const day = 24 * 60 * 60 * 1000;

function bundle(...certs: TestCert[]): CABundle {
  const p = parsePemBundle(certs.map((c) => c.certPem).join(''));
  return { pem: p.pem, certificates: p.certificates, version: 1 };
}

interface Case {
  readonly name: string;
  readonly leaf: () => TestCert;
  readonly intermediates?: () => readonly TestCert[];
  readonly roots: () => CABundle;
  readonly now?: () => number;
  readonly expectOk?: boolean;
  readonly expectCheck?: ChainCheck;
  readonly expectMessage?: RegExp;
  readonly expectChainCNs?: readonly string[];
}

describe('verifyClientChain (Go x509.Verify semantics, KeyUsages=[clientAuth])', () => {
  const pki = testPki();
  const cn = (c: X509Certificate) => c.subject.replace(/^CN=/, '').split('\n')[0];
  // Variants only this spec needs, issued with the shared key.
  const ekuServerCA = testCert(
    createCertificate({
      commonName: 'test-server-eku-intermediate',
      isCA: true,
      extKeyUsage: ['serverAuth'],
      keyPair: pki.sharedKey,
      issuer: pki.frontProxyCA.issued,
    }),
  );
  const viaServerEkuCA = testCert(
    createCertificate({ commonName: 'front-proxy-client', keyPair: pki.sharedKey, issuer: ekuServerCA.issued }),
    [ekuServerCA],
  );
  const pathLenZero = testCert(
    createCertificate({
      commonName: 'test-pathlen0',
      isCA: true,
      pathLen: 0,
      keyPair: pki.sharedKey,
      issuer: pki.frontProxyCA.issued,
    }),
  );
  const subIntermediate = testCert(
    createCertificate({
      commonName: 'test-sub-intermediate',
      isCA: true,
      keyPair: pki.sharedKey,
      issuer: pathLenZero.issued,
    }),
  );
  const tooDeep = testCert(
    createCertificate({ commonName: 'front-proxy-client', keyPair: pki.sharedKey, issuer: subIntermediate.issued }),
    [subIntermediate, pathLenZero],
  );
  const selfSigned = testCert(createCertificate({ commonName: 'self-signed-client', keyPair: pki.sharedKey }));

  const inter = (c: TestCert) => () => [c];
  const cases: readonly Case[] = [
    {
      name: 'valid client cert',
      leaf: () => pki.proxy,
      roots: () => bundle(pki.frontProxyCA),
      expectOk: true,
      expectChainCNs: ['front-proxy-client', 'test-front-proxy-ca'],
    },
    {
      name: 'no EKU extension is unrestricted',
      leaf: () => pki.proxyNoEku,
      roots: () => bundle(pki.frontProxyCA),
      expectOk: true,
    },
    {
      name: 'server cert disallowed',
      leaf: () => pki.proxyServerAuthOnly,
      roots: () => bundle(pki.frontProxyCA),
      expectCheck: 'eku',
      expectMessage: /^x509: certificate specifies an incompatible key usage$/,
    },
    {
      name: 'expired cert',
      leaf: () => pki.proxy,
      roots: () => bundle(pki.frontProxyCA),
      now: () => Date.now() + 2 * 365 * day,
      expectCheck: 'validity',
      expectMessage: /^x509: certificate has expired or is not yet valid: current time \S+Z is after \S+Z$/,
    },
    {
      name: 'future cert',
      leaf: () => pki.proxy,
      roots: () => bundle(pki.frontProxyCA),
      now: () => Date.now() - 2 * day,
      expectCheck: 'validity',
      expectMessage: /^x509: certificate has expired or is not yet valid: current time \S+Z is before \S+Z$/,
    },
    {
      name: 'expired leaf (real clock)',
      leaf: () => pki.proxyExpired,
      roots: () => bundle(pki.frontProxyCA),
      expectCheck: 'validity',
    },
    {
      name: 'not-yet-valid leaf (real clock)',
      leaf: () => pki.proxyNotYetValid,
      roots: () => bundle(pki.frontProxyCA),
      expectCheck: 'validity',
    },
    {
      name: 'unknown authority',
      leaf: () => pki.proxyFromOtherCA,
      roots: () => bundle(pki.frontProxyCA),
      expectCheck: 'chain',
      expectMessage: /^x509: certificate signed by unknown authority$/,
    },
    {
      name: 'multi-level',
      leaf: () => pki.proxyViaIntermediate,
      intermediates: inter(pki.frontProxyIntermediate),
      roots: () => bundle(pki.frontProxyCA),
      expectOk: true,
      expectChainCNs: ['front-proxy-client', 'test-front-proxy-intermediate', 'test-front-proxy-ca'],
    },
    {
      name: 'multi-level without the intermediate',
      leaf: () => pki.proxyViaIntermediate,
      roots: () => bundle(pki.frontProxyCA),
      expectCheck: 'chain',
      expectMessage: /^x509: certificate signed by unknown authority$/,
    },
    {
      name: 'intermediate in the bundle is an anchor (Go trusts every bundle certificate)',
      leaf: () => pki.proxyViaIntermediate,
      roots: () => bundle(pki.frontProxyIntermediate),
      expectOk: true,
      expectChainCNs: ['front-proxy-client', 'test-front-proxy-intermediate'],
    },
    {
      name: 'intermediate with CA:FALSE',
      leaf: () => pki.proxyViaCaFalse,
      intermediates: () => caFalseIntermediate(),
      roots: () => bundle(pki.frontProxyCA),
      expectCheck: 'ca',
      expectMessage:
        /^x509: certificate signed by unknown authority \(possibly because of "x509: invalid signature: parent certificate cannot sign this kind of certificate" while trying to verify candidate authority certificate "test-ca-false-intermediate"\)$/,
    },
    {
      name: 'expired intermediate',
      leaf: () => pki.proxyViaExpiredIntermediate,
      intermediates: () => expiredIntermediate(),
      roots: () => bundle(pki.frontProxyCA),
      expectCheck: 'validity',
      expectMessage:
        /possibly because of "x509: certificate has expired or is not yet valid: .*" while trying to verify candidate authority certificate "test-expired-intermediate"/,
    },
    {
      name: 'intermediate whose EKU lacks clientAuth',
      leaf: () => viaServerEkuCA,
      intermediates: inter(ekuServerCA),
      roots: () => bundle(pki.frontProxyCA),
      expectCheck: 'eku',
    },
    {
      name: 'pathLen 0 exceeded',
      leaf: () => tooDeep,
      intermediates: () => [subIntermediate, pathLenZero],
      roots: () => bundle(pki.frontProxyCA),
      expectCheck: 'path-length',
      expectMessage:
        /^x509: certificate signed by unknown authority \(possibly because of "x509: too many intermediates for path length constraint" while trying to verify candidate authority certificate "test-pathlen0"\)$/,
    },
    {
      name: 'self signed leaf that is itself in the bundle',
      leaf: () => selfSigned,
      roots: () => bundle(selfSigned),
      expectOk: true,
    },
    {
      name: 'self signed leaf not in the bundle',
      leaf: () => selfSigned,
      roots: () => bundle(pki.frontProxyCA),
      expectCheck: 'chain',
    },
    {
      name: 'client CA leaf against the front-proxy CA',
      leaf: () => pki.clientProxyCN,
      roots: () => bundle(pki.frontProxyCA),
      expectCheck: 'chain',
    },
    {
      name: 'right CA among several',
      leaf: () => pki.alice,
      roots: () => bundle(pki.otherCA, pki.frontProxyCA, pki.clientCA),
      expectOk: true,
    },
  ];

  function splitChain(c: TestCert): TestCert[] {
    const pems = c.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? [];
    return pems.slice(1).map((pem) => ({ ...c, certPem: pem, x509: parsePemBundle(pem).certificates[0]! }));
  }
  const caFalseIntermediate = () => splitChain(pki.proxyViaCaFalse);
  const expiredIntermediate = () => splitChain(pki.proxyViaExpiredIntermediate);

  for (const c of cases) {
    it(c.name, () => {
      const v = verifyClientChain(
        c.leaf().x509,
        (c.intermediates?.() ?? []).map((i) => i.x509),
        c.roots(),
        c.now?.() ?? Date.now(),
      );
      if (c.expectOk) {
        expect(v.ok, JSON.stringify(!v.ok && v.message)).to.equal(true);
        if (v.ok && c.expectChainCNs) expect(v.chain.map(cn)).to.deep.equal(c.expectChainCNs);
      } else {
        expect(v.ok).to.equal(false);
        if (!v.ok) {
          expect(v.check).to.equal(c.expectCheck);
          if (c.expectMessage) expect(v.message).to.match(c.expectMessage);
        }
      }
    });
  }

  describe('verifyClientChainCached', () => {
    it('verifies once per connection and bundle version, again after a version bump or a new connection', () => {
      const conn = {};
      const b = bundle(pki.frontProxyCA);
      const before = chainVerifierStats.verifications;
      expect(verifyClientChainCached(conn, pki.proxy.x509, [], b).ok).to.equal(true);
      expect(verifyClientChainCached(conn, pki.proxy.x509, [], b).ok).to.equal(true);
      expect(chainVerifierStats.verifications - before).to.equal(1);
      // Same certificates array, new version: re-verified.
      const bumped: CABundle = { ...b, version: 2 };
      expect(verifyClientChainCached(conn, pki.proxy.x509, [], bumped).ok).to.equal(true);
      expect(chainVerifierStats.verifications - before).to.equal(2);
      // A different bundle (CA swap) on the same connection: judged against the new anchors.
      expect(verifyClientChainCached(conn, pki.proxy.x509, [], bundle(pki.otherCA)).ok).to.equal(false);
      expect(verifyClientChainCached({}, pki.proxy.x509, [], b).ok).to.equal(true);
      expect(chainVerifierStats.verifications - before).to.equal(4);
    });

    it('a cached success expires with the certificate (a long keep-alive connection is refused once it expires)', () => {
      const conn = {};
      const b = bundle(pki.frontProxyCA);
      const notAfter = Date.parse(pki.proxy.x509.validTo);
      expect(verifyClientChainCached(conn, pki.proxy.x509, [], b, notAfter - 1000).ok).to.equal(true);
      const later = verifyClientChainCached(conn, pki.proxy.x509, [], b, notAfter + 1000);
      expect(later.ok).to.equal(false);
      expect(!later.ok && later.check).to.equal('validity');
    });

    it('a cached not-yet-valid refusal flips once the certificate becomes valid', () => {
      const conn = {};
      const b = bundle(pki.frontProxyCA);
      const notBefore = Date.parse(pki.proxyNotYetValid.x509.validFrom);
      expect(verifyClientChainCached(conn, pki.proxyNotYetValid.x509, [], b, notBefore - 1000).ok).to.equal(false);
      expect(verifyClientChainCached(conn, pki.proxyNotYetValid.x509, [], b, notBefore + 1000).ok).to.equal(true);
    });
  });
});
