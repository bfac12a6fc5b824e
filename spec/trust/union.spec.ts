import { expect } from 'chai';
import { staticCABundle } from '../../lib/trust/static.js';
import { unionCABundle } from '../../lib/trust/union.js';
import { MutableProvider } from '../../lib/trust/mutable-provider.js';
import type { CABundle } from '../../lib/trust/interfaces.js';
import { testPki } from '../support/pki.js';

describe('trust/unionCABundle (Go unionCAContent)', () => {
  const pki = testPki();

  it('joins the members trimmed, in order; undefined while none has content; version moves only on change', () => {
    const late = new MutableProvider<CABundle>('late');
    const union = unionCABundle('u', [late, undefined]);
    expect(union.current()).to.equal(undefined);

    const client = staticCABundle(pki.clientCA.certPem + '\n\n', 'client');
    const both = unionCABundle('u', [client, late]);
    const first = both.current()!;
    const clientPem = client.current()!.pem.trim(); // normalised PEM (LF line ends)
    expect(first.pem).to.equal(clientPem);
    expect(both.current()).to.equal(first); // unchanged: same object, same version

    const frontProxy = staticCABundle(pki.frontProxyCA.certPem, 'fp').current()!;
    late.set(frontProxy);
    const second = both.current()!;
    expect(second.pem).to.equal(`${clientPem}\n${frontProxy.pem.trim()}`);
    expect(second.certificates.map((c) => c.subject)).to.deep.equal([
      pki.clientCA.x509.subject,
      pki.frontProxyCA.x509.subject,
    ]);
    expect(second.version).to.equal(first.version + 1);
  });

  it('addListener forwards to every member and unsubscribes from all', () => {
    const a = new MutableProvider<CABundle>('a');
    const b = new MutableProvider<CABundle>('b');
    const union = unionCABundle('u', [a, b]);
    let calls = 0;
    const off = union.addListener(() => calls++);
    a.set(undefined);
    b.set(undefined);
    off();
    a.set(undefined);
    expect(calls).to.equal(2);
  });
});
