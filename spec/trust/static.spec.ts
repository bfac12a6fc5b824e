import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KdaError } from '../../lib/errors.js';
import {
  defaultRequestHeaderConfig,
  fileCABundle,
  staticCABundle,
  staticRequestHeaderConfig,
} from '../../lib/trust/static.js';
import { testPki } from '../support/pki.js';
import { waitFor } from '../support/wait-for.js';

describe('staticCABundle', () => {
  const pki = testPki();

  it('parses at construction and never changes', () => {
    const p = staticCABundle(pki.frontProxyCA.certPem + pki.clientCA.certPem, 'request-header::test');
    expect(p.name).to.equal('request-header::test');
    expect(p.current()!.certificates).to.have.length(2);
    expect(p.current()).to.equal(p.current());
    expect(p.current()!.version).to.equal(1);
    expect(p.addListener(() => {})).to.be.a('function');
  });

  it('throws on an invalid bundle, naming it', () => {
    expect(() => staticCABundle('nope', 'my-ca')).to.throw(KdaError, /invalid CA bundle my-ca/);
  });
});

describe('staticRequestHeaderConfig', () => {
  it("fills Go's flag defaults", () => {
    expect(staticRequestHeaderConfig().current()).to.deep.equal(defaultRequestHeaderConfig);
    expect(staticRequestHeaderConfig({ allowedNames: ['front-proxy-client'] }).current()).to.deep.include({
      usernameHeaders: ['x-remote-user'],
      allowedNames: ['front-proxy-client'],
    });
  });
});

describe('fileCABundle', () => {
  const pki = testPki();
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kda-ca-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('does no I/O in the constructor; runOnce() fails on a missing file', async () => {
    const p = fileCABundle(join(dir, 'missing.crt'));
    expect(p.current()).to.equal(undefined);
    expect(p.name).to.equal(`client-ca-bundle::${join(dir, 'missing.crt')}`);
    let err: unknown;
    await p.runOnce().catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(KdaError);
    expect((err as KdaError).code).to.equal('ERR_KDA_TRUST_UNAVAILABLE');
    await p.close();
  });

  it('a throwing listener does not stop the other listeners nor fail the reload (review §3.3.4)', async () => {
    const file = join(dir, 'ca.crt');
    writeFileSync(file, pki.frontProxyCA.certPem);
    const p = fileCABundle(file);
    let notified = 0;
    p.addListener(() => {
      throw new Error('bad listener');
    });
    p.addListener(() => notified++);
    await p.runOnce();
    expect([p.current()!.version, notified]).to.deep.equal([1, 1]);
    await p.close();
  });

  it('reloads on change, notifies listeners, keeps the last good bundle on a bad write, and closes idempotently', async () => {
    const file = join(dir, 'ca.crt');
    writeFileSync(file, pki.frontProxyCA.certPem);
    const p = fileCABundle(file, { pollInterval: 20, name: 'request-header::ca.crt' });
    let notified = 0;
    p.addListener(() => notified++);
    await p.runOnce();
    expect(p.current()!.version).to.equal(1);
    expect(p.current()!.certificates[0]!.subject).to.equal('CN=test-front-proxy-ca');
    p.start();

    writeFileSync(file, pki.otherCA.certPem + '\n');
    await waitFor(() => p.current()!.version === 2, {
      what: 'version 2 of the bundle',
      wakeOn: (wake) => p.addListener(wake),
    });
    expect(p.current()!.certificates[0]!.subject).to.equal('CN=test-other-ca');

    writeFileSync(file, 'garbage that is not PEM, longer than before to change the size.....................');
    await p.runOnce(); // a failed reload with a good bundle loaded keeps it
    expect(p.current()!.version).to.equal(2);
    expect(notified).to.equal(2);

    await p.close();
    await p.close();
    await p.runOnce().then(
      () => expect.fail('runOnce after close must fail'),
      (e: unknown) => expect((e as KdaError).code).to.equal('ERR_KDA_CLOSED'),
    );
  });
});
