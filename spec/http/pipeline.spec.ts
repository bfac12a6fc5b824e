import { expect } from 'chai';
import { anonymousAuthenticator } from '../../lib/authn/anonymous.js';
import { newDelegatingAuthorizer } from '../../lib/authz/delegating.js';
import {
  badRequestResponse,
  delegatedAuthPipeline,
  delegatedAuthStackOptions,
  requestInfoStep,
} from '../../lib/http/pipeline.js';
import { staticCABundle, staticRequestHeaderConfig } from '../../lib/trust/static.js';
import type { TrustSource } from '../../lib/trust/interfaces.js';
import { testPki } from '../support/pki.js';

describe('http/pipeline', () => {
  describe('requestInfoStep', () => {
    const cases: readonly { name: string; url: string; status?: number; body?: string; verb?: string }[] = [
      { name: 'resource list', url: '/apis/g/v1/namespaces/ns/things', verb: 'list' },
      {
        name: 'malformed escape → Go 400',
        url: '/apis/g/v1/namespaces/%zz/things',
        status: 400,
        body: '400 Bad Request',
      },
      {
        name: 'watch without a resource → 500',
        url: '/api/v1/watch',
        status: 500,
        body: 'Internal Server Error: "/api/v1/watch": failed to create RequestInfo: unable to determine kind and namespace from url, /api/v1/watch\n',
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const r = requestInfoStep('GET', c.url);
        if (c.verb) {
          expect(r.ok).to.equal(true);
          if (r.ok) expect(r.info.verb).to.equal(c.verb);
          return;
        }
        expect(r.ok).to.equal(false);
        if (!r.ok) expect(r.response).to.deep.include({ status: c.status, body: c.body });
      });
    }

    it('the 400 asks for the connection to be closed', () => {
      const r = requestInfoStep('GET', '/%zz');
      expect(r).to.deep.include({ ok: false, closeConnection: true, response: badRequestResponse });
      expect(badRequestResponse.headers.connection).to.equal('close');
    });
  });

  it('delegatedAuthStackOptions wires a createDelegatedAuth() stack: its authenticator, authorizer and live header config', () => {
    const pki = testPki();
    const requestHeaderCA = staticCABundle(pki.frontProxyCA.certPem);
    const requestHeaderConfig = staticRequestHeaderConfig({ usernameHeaders: ['x-who'] });
    const authenticator = anonymousAuthenticator();
    const authorizer = newDelegatingAuthorizer();
    const trust = { requestHeaderCA, requestHeaderConfig } as unknown as TrustSource;
    const opts = delegatedAuthStackOptions({ authenticator, authorizer, trust }, { authorizationSelectors: true });
    expect(opts.authenticator).to.equal(authenticator);
    expect(opts.authorizer).to.equal(authorizer);
    expect(opts.requestHeader).to.deep.equal({ caProvider: requestHeaderCA, configProvider: requestHeaderConfig });
    expect(opts.authorizationSelectors).to.equal(true);
    expect(() => delegatedAuthPipeline(opts)).to.not.throw();
  });

  it('delegatedAuthPipeline rejects an authorizer without authorize()', () => {
    expect(() => delegatedAuthPipeline({ authorizer: {} as never })).to.throw(TypeError, /"authorizer" must implement/);
  });
});
