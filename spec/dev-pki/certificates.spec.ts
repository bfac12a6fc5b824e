// Every kind of certificate the library generates must be accepted by Go: kube-apiserver's aggregator parses the
// extension server's serving certificate with crypto/x509, and a PrintableString holding `@` made cluster mode's
// self-signed certificate unparsable (APIService FailedDiscoveryCheck). Checked two ways: the ASN.1 string types
// attribute by attribute, and Go's real parser (spec/support/go-x509).
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { expect } from 'chai';
import forge from 'node-forge';
import { createClusterPki, createExtensionServingPki } from '../../harness/cluster-pki.js';
import { InvalidOptionError } from '../../lib/errors.js';
import { createCertificate, generateKeyPair, type IssuedCertificate } from '../../lib/dev-pki/certificates.js';
import { writeDevPki } from '../../lib/dev-pki/dev-pki.js';
import { createSecureServer } from '../../lib/server/secure-server.js';
import { goX509, type GoX509 } from '../support/go-x509.js';

const { asn1 } = forge;

/** X.680 PrintableString, written out here independently of the library's own constant. */
const printable = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

interface NameValue {
  readonly field: 'subject' | 'issuer';
  readonly oid: string;
  readonly tag: number;
  readonly text: string;
}

interface DerFacts {
  readonly names: readonly NameValue[];
  readonly serial: Buffer;
  readonly validityTags: readonly number[];
  readonly validity: readonly Date[];
}

/** Reads the raw encodings Go checks: name attribute string types, serial bytes, validity time types. */
function derFacts(pem: string): DerFacts {
  const der = Buffer.from(new X509Certificate(pem).raw);
  const cert = asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
  const tbs = (cert.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[];
  const off = tbs[0]!.tagClass === asn1.Class.CONTEXT_SPECIFIC ? 1 : 0;
  const names: NameValue[] = [];
  for (const [field, node] of [
    ['issuer', tbs[off + 2]!],
    ['subject', tbs[off + 4]!],
  ] as const) {
    for (const rdn of node.value as forge.asn1.Asn1[]) {
      for (const atv of rdn.value as forge.asn1.Asn1[]) {
        const [oid, value] = atv.value as forge.asn1.Asn1[];
        const raw = Buffer.from(value!.value as string, 'binary');
        names.push({
          field,
          oid: asn1.derToOid(forge.util.createBuffer(oid!.value as string)),
          tag: value!.type,
          text: value!.type === asn1.Type.UTF8 ? raw.toString('utf8') : raw.toString('latin1'),
        });
      }
    }
  }
  const validity = tbs[off + 3]!.value as forge.asn1.Asn1[];
  return {
    names,
    serial: Buffer.from(tbs[off]!.value as string, 'binary'),
    validityTags: validity.map((v) => v.type),
    validity: validity.map((v) =>
      v.type === asn1.Type.UTCTIME
        ? asn1.utcTimeToDate(v.value as string)
        : asn1.generalizedTimeToDate(v.value as string),
    ),
  };
}

/** The Go x509 rules this spec enforces on the encoding, as failures (empty = accepted). */
function goEncodingProblems(label: string, pem: string): string[] {
  const f = derFacts(pem);
  const problems: string[] = [];
  for (const n of f.names) {
    if (n.tag === asn1.Type.PRINTABLESTRING) {
      if (!printable.test(n.text))
        problems.push(`${label} ${n.field} ${n.oid}: PrintableString ${JSON.stringify(n.text)}`);
    } else if (n.tag === asn1.Type.UTF8) {
      const raw = Buffer.from(n.text, 'utf8');
      if (raw.toString('utf8') !== n.text || n.text.includes('\uFFFD'))
        problems.push(`${label} ${n.field} ${n.oid}: invalid UTF-8`);
    } else {
      problems.push(`${label} ${n.field} ${n.oid}: unexpected string type ${n.tag}`);
    }
  }
  if (f.serial.length === 0 || f.serial.length > 20) problems.push(`${label}: serial is ${f.serial.length} bytes`);
  if ((f.serial[0] ?? 0) & 0x80) problems.push(`${label}: negative serial`);
  if (f.serial.every((b) => b === 0)) problems.push(`${label}: zero serial`);
  f.validity.forEach((d, i) => {
    const want = d.getUTCFullYear() < 2050 ? asn1.Type.UTCTIME : asn1.Type.GENERALIZEDTIME;
    if (f.validityTags[i] !== want) problems.push(`${label}: validity[${i}] encoded as tag ${f.validityTags[i]}`);
  });
  return problems;
}

/** The TLS leaf a server presents (DER → PEM), read over a real connection. */
async function presentedChain(port: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' }, () => {
      const leaf = socket.getPeerCertificate(true);
      const pems: string[] = [];
      const seen = new Set<string>();
      for (let c = leaf; c && c.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
        seen.add(c.fingerprint256);
        pems.push(new X509Certificate(c.raw).toString());
      }
      socket.end();
      resolve(pems);
    });
    socket.once('error', reject);
  });
}

describe('pki: every generated certificate is one Go accepts', function () {
  this.timeout(300_000);
  let dir: string;
  /** label → PEM file (leaf first, then its chain). */
  const files = new Map<string, string>();
  let selfSignedCa: string;
  let selfSignedChain: string;
  /** Go's crypto/x509; undefined (its tests pending) without a Go toolchain at least as recent as minimumGo. */
  let go: GoX509 | undefined;

  const hostileNames: readonly { label: string; commonName: string; organizations?: string[] }[] = [
    { label: 'at-sign (the self-signed CA name pattern)', commonName: 'kube-delegated-auth-ca@1700000000' },
    { label: 'email-like user', commonName: 'jane@example.com', organizations: ['team_a', 'a&b'] },
    { label: 'service-account user', commonName: 'system:serviceaccount:ns:sa', organizations: ['system:masters'] },
    { label: 'wildcard', commonName: '*.example.com' },
    { label: 'non-ASCII', commonName: 'Jürgen Größe', organizations: ['開発者', 'emoji 🚀'] },
    { label: 'every PrintableString character', commonName: "Az09 '()+,-./:=?" },
  ];

  before(async () => {
    go = await goX509();
    dir = mkdtempSync(join(tmpdir(), 'kda-pki-go-'));
    const put = (label: string, pem: string) => {
      const file = join(dir, `${files.size}.pem`);
      writeFileSync(file, pem);
      files.set(label, file);
    };
    // The development PKI (`certs`, standalone `serve`).
    const dev = join(dir, 'dev');
    writeDevPki(dev);
    for (const name of readdirSync(dev)
      .filter((n) => n.endsWith('.crt'))
      .sort()) {
      put(`dev PKI ${name}`, readFileSync(join(dev, name), 'utf8'));
    }
    // Cluster mode without --tls-cert-file: the self-signed CA and serving certificate, as served over TLS.
    const server = createSecureServer({
      handler: (_req, res) => res.end(),
      selfSigned: { dnsNames: ['localhost', 'kube-delegated-auth-sample.kube-delegated-auth.svc'] },
      bindAddress: '127.0.0.1',
      securePort: 0,
    });
    await server.listen();
    try {
      const chain = await presentedChain(server.port);
      selfSignedCa = join(dir, 'self-signed-ca.pem');
      writeFileSync(selfSignedCa, server.selfSignedCaPem!);
      put('self-signed CA', server.selfSignedCaPem!);
      put('self-signed serving chain', chain.join('\n'));
      selfSignedChain = files.get('self-signed serving chain')!;
    } finally {
      await server.close();
    }
    // The harness PKIs (they use the same generator).
    const cluster = createClusterPki(join(dir, 'cluster'));
    for (const [k, v] of Object.entries(cluster.paths)) {
      if (k.endsWith('Cert')) put(`cluster PKI ${k}`, readFileSync(v, 'utf8'));
    }
    const ext = createExtensionServingPki('svc', 'ns');
    put('extension serving CA', ext.ca.certPem);
    put('extension serving', ext.serving.certPem + ext.ca.certPem);
    // Names outside PrintableString's alphabet, as CA subjects (they become the leaves' issuers) and leaf subjects.
    const key = generateKeyPair();
    for (const h of hostileNames) {
      const ca: IssuedCertificate = createCertificate({ commonName: h.commonName, isCA: true, keyPair: key });
      const leaf = createCertificate({
        commonName: h.commonName,
        organizations: h.organizations ?? [],
        issuer: ca,
        keyPair: key,
      });
      put(`CA ${h.label}`, ca.certPem);
      put(`leaf ${h.label}`, leaf.certPem + ca.certPem);
    }
    // Validity on both sides of 2050 (UTCTime / GeneralizedTime).
    put(
      'validity past 2050',
      createCertificate({
        commonName: 'long-lived',
        isCA: true,
        keyPair: key,
        notBefore: new Date('2049-06-01T00:00:00Z'),
        notAfter: new Date('2051-06-01T00:00:00Z'),
      }).certPem,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('covers every generator: dev PKI, self-signed serving, harness PKIs, hostile names', () => {
    const labels = [...files.keys()];
    expect(labels.filter((l) => l.startsWith('dev PKI'))).to.have.length(8);
    expect(labels).to.include.members(['self-signed CA', 'self-signed serving chain', 'extension serving']);
    expect(labels.filter((l) => l.startsWith('cluster PKI')).length).to.be.at.least(4);
  });

  it('each name attribute is a PrintableString within its alphabet, else a UTF8String holding the exact value', () => {
    const problems = [...files].flatMap(([label, file]) =>
      readFileSync(file, 'utf8')
        .split(/(?=-----BEGIN CERTIFICATE-----)/)
        .filter((p) => p.includes('BEGIN CERTIFICATE'))
        .flatMap((pem, i) => goEncodingProblems(`${label}[${i}]`, pem)),
    );
    expect(problems).to.deep.equal([]);
  });

  it('values keep their text: `@`, `_`, `&`, `*` and non-ASCII are UTF8String, plain names PrintableString', () => {
    const subjectOf = (label: string) =>
      derFacts(readFileSync(files.get(label)!, 'utf8')).names.filter((n) => n.field === 'subject');
    const at = subjectOf('CA at-sign (the self-signed CA name pattern)');
    expect(at).to.deep.equal([
      { field: 'subject', oid: '2.5.4.3', tag: asn1.Type.UTF8, text: 'kube-delegated-auth-ca@1700000000' },
    ]);
    const email = subjectOf('leaf email-like user').map((n) => [n.tag, n.text]);
    expect(email).to.deep.equal([
      [asn1.Type.UTF8, 'jane@example.com'],
      [asn1.Type.UTF8, 'team_a'],
      [asn1.Type.UTF8, 'a&b'],
    ]);
    const unicode = subjectOf('leaf non-ASCII').map((n) => [n.tag, n.text]);
    expect(unicode).to.deep.equal([
      [asn1.Type.UTF8, 'Jürgen Größe'],
      [asn1.Type.UTF8, '開発者'],
      [asn1.Type.UTF8, 'emoji 🚀'],
    ]);
    const sa = subjectOf('leaf service-account user').map((n) => [n.tag, n.text]);
    expect(sa).to.deep.equal([
      [asn1.Type.PRINTABLESTRING, 'system:serviceaccount:ns:sa'],
      [asn1.Type.PRINTABLESTRING, 'system:masters'],
    ]);
    // Node reads them back as written (what x509 authentication turns into user and groups).
    const x = new X509Certificate(readFileSync(files.get('leaf non-ASCII')!, 'utf8'));
    expect(x.subject).to.include('CN=Jürgen Größe').and.include('O=開発者');
  });

  it("Go's x509.ParseCertificate parses every one of them", async function () {
    if (!go) this.skip();
    const r = await go.check([...files.values()]);
    expect(
      r.results.filter((x) => x.error),
      r.stderr,
    ).to.deep.equal([]);
    expect(r.ok).to.equal(true);
    // Go saw what was written (a UTF8String comes back with its `@`).
    expect(r.results.map((x) => x.subject)).to.include('CN=kube-delegated-auth-ca@1700000000');
  });

  it('Go verifies the self-signed serving chain for the Service name with serverAuth, as the aggregator does', async function () {
    if (!go) this.skip();
    const r = await go.check([selfSignedChain], {
      roots: selfSignedCa,
      dnsName: 'kube-delegated-auth-sample.kube-delegated-auth.svc',
      usage: 'server',
    });
    expect(
      r.results.find((x) => x.verify !== undefined),
      r.stderr,
    ).to.include({ verify: 'ok' });
    expect(r.ok).to.equal(true);
  });

  it('Go verifies the dev PKI: serving for localhost (server), users and the front proxy (client)', async function () {
    if (!go) this.skip();
    const dev = join(dir, 'dev');
    const serving = join(dir, 'dev-serving-chain.pem');
    writeFileSync(serving, readFileSync(join(dev, 'serving.crt'), 'utf8'));
    const s = await go.check([serving], {
      roots: join(dev, 'serving-ca.crt'),
      dnsName: 'localhost',
      usage: 'server',
    });
    expect(s.ok, JSON.stringify(s.results)).to.equal(true);
    const users = await go.check(
      ['admin.crt', 'alice.crt', 'bob.crt'].map((n) => join(dev, n)),
      { roots: join(dev, 'client-ca.crt'), usage: 'client' },
    );
    expect(users.ok, JSON.stringify(users.results)).to.equal(true);
    const proxy = await go.check([join(dev, 'front-proxy-client.crt')], {
      roots: join(dev, 'front-proxy-ca.crt'),
      usage: 'client',
    });
    expect(proxy.ok, JSON.stringify(proxy.results)).to.equal(true);
  });

  it('Go verifies a leaf under a CA whose name is not PrintableString-safe (issuer bytes match the subject)', async function () {
    if (!go) this.skip();
    const label = 'leaf non-ASCII';
    const roots = join(dir, 'hostile-root.pem');
    writeFileSync(roots, readFileSync(files.get('CA non-ASCII')!, 'utf8'));
    const r = await go.check([files.get(label)!], { roots, usage: 'client' });
    expect(r.ok, JSON.stringify(r.results)).to.equal(true);
  });

  it('control: the old encoding (PrintableString with `@`) is refused by Go, so the check can fail', async function () {
    if (!go) this.skip();
    const key = generateKeyPair();
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(key.publicKeyPem);
    cert.serialNumber = '01';
    cert.validity.notBefore = new Date(Date.now() - 3_600_000);
    cert.validity.notAfter = new Date(Date.now() + 3_600_000);
    const name = [{ shortName: 'CN', value: 'kube-delegated-auth-ca@1700000000' }];
    cert.setSubject(name);
    cert.setIssuer(name);
    cert.sign(forge.pki.privateKeyFromPem(key.privateKeyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
    const file = join(dir, 'old-encoding.pem');
    writeFileSync(file, forge.pki.certificateToPem(cert));
    // Self-signed: both the issuer and the subject hold the bad PrintableString.
    const problems = goEncodingProblems('old', forge.pki.certificateToPem(cert));
    expect(problems).to.have.length(2);
    for (const p of problems) expect(p).to.match(/PrintableString "kube-delegated-auth-ca@1700000000"/);
    const r = await go.check([file]);
    expect(r.ok).to.equal(false);
    expect(r.results[0]!.error).to.match(/invalid PrintableString/);
  });

  it('a SAN Go would refuse is refused at generation: non-ASCII DNS name, empty name, bad IP', () => {
    for (const bad of [{ dnsNames: ['bücher.example'] }, { dnsNames: [''] }, { ipAddresses: ['10.0.0.300'] }]) {
      expect(() => createCertificate({ commonName: 'x', keyPair: generateKeyPair(), ...bad })).to.throw(
        InvalidOptionError,
      );
    }
  });
});
