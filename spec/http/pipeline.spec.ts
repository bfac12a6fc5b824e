import { expect } from 'chai';
import { createDelegatedAuth } from '../../lib/delegated-auth.js';
import { anonymousAuthenticator } from '../../lib/authn/anonymous.js';
import { newDelegatingAuthorizer } from '../../lib/authz/delegating.js';
import {
  badRequestResponse,
  delegatedAuthPipeline,
  pipelineOptionsOf,
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

  it('pipelineOptionsOf wires a createDelegatedAuth() stack: its authenticator, authorizer, live header config and selectors', () => {
    const pki = testPki();
    const requestHeaderCA = staticCABundle(pki.frontProxyCA.certPem);
    const requestHeaderConfig = staticRequestHeaderConfig({ usernameHeaders: ['x-who'] });
    const authenticator = anonymousAuthenticator();
    const authorizer = newDelegatingAuthorizer();
    const trust = { requestHeaderCA, requestHeaderConfig } as unknown as TrustSource;
    const stack = createDelegatedAuth({ mode: 'local', requestheaderClientCaFile: '/nonexistent/ca.crt' });
    const stackOpts = stack.pipelineOptions();
    expect(stackOpts.authenticator).to.equal(stack.authenticator);
    expect(stackOpts.authorizer).to.equal(stack.authorizer);
    expect(stackOpts.requestHeader).to.deep.equal({
      caProvider: stack.trust.requestHeaderCA,
      configProvider: stack.trust.requestHeaderConfig,
    });
    const source = {
      pipelineOptions: () => ({
        authenticator,
        authorizer,
        requestHeader: { caProvider: trust.requestHeaderCA, configProvider: trust.requestHeaderConfig },
      }),
    };
    const opts = pipelineOptionsOf(source, { authorizationSelectors: true });
    // Plain options pass through untouched.
    expect(pipelineOptionsOf(opts)).to.equal(opts);
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
