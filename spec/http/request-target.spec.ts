import { expect } from 'chai';
import { requestTargetResponse, requestTargetStep, badRequestResponse } from '../../lib/http/pipeline.js';
import { checkRequestTarget } from '../../lib/http/request-target.js';

const gv = '/apis/sample.kube-delegated-auth.io/v1alpha1';

describe('checkRequestTarget: one path every framework routes on, or a 400', () => {
  const accepted: readonly { target: string; uri: string; absolute?: boolean }[] = [
    { target: '/', uri: '/' },
    { target: `${gv}/namespaces/default/widgets/gear`, uri: `${gv}/namespaces/default/widgets/gear` },
    { target: `${gv}/namespaces/default/widgets/`, uri: `${gv}/namespaces/default/widgets/` },
    { target: '/x?watch=1&fieldSelector=metadata.name%3Dgear', uri: '/x?watch=1&fieldSelector=metadata.name%3Dgear' },
    { target: '/a%2Eb/%41/%C3%A9/%07/<b>/{x}/a:b@c/~*+', uri: '/a%2Eb/%41/%C3%A9/%07/<b>/{x}/a:b@c/~*+' },
    { target: '/x?q=<b>&p=a\\b&u=%C3%A9', uri: '/x?q=<b>&p=a\\b&u=%C3%A9' },
    { target: '/a;b', uri: '/a;b' },
    { target: `http://x${gv}/widgets?limit=1`, uri: `${gv}/widgets?limit=1`, absolute: true },
    { target: 'HTTPS://h.example:8443/x', uri: '/x', absolute: true },
    { target: 'http://[::1]:8443/x', uri: '/x', absolute: true },
    { target: 'http://x/', uri: '/', absolute: true },
  ];
  for (const c of accepted) {
    it(`accepts ${JSON.stringify(c.target)} as ${JSON.stringify(c.uri)}`, () => {
      const r = checkRequestTarget(c.target);
      expect(r).to.deep.include({ ok: true, uri: c.uri, absolute: c.absolute === true });
    });
  }

  it('with trailingSlashIgnored, "/" itself and paths without a trailing slash stay accepted', () => {
    for (const t of ['/', '/apis', 'http://x/']) {
      expect(checkRequestTarget(t, { trailingSlashIgnored: true }).ok, t).to.equal(true);
    }
  });

  const refused: readonly {
    target: string;
    cause: RegExp;
    goRejects?: boolean;
    semicolon?: boolean;
    trailing?: boolean;
  }[] = [
    // The exact target: url.parse() turns each `\` into `/` for Koa and Express.
    { target: `http://x${gv}\\namespaces\\secret\\widgets\\gear`, cause: /backslash in the path/ },
    { target: `${gv}\\namespaces\\secret\\widgets\\gear`, cause: /backslash/ },
    { target: `${gv}/namespaces/secret%5Cwidgets`, cause: /encoded backslash/ },
    { target: `${gv}/namespaces/public/widgets#/../../secret/widgets/gear`, cause: /fragment/ },
    { target: '/x?a=b#c', cause: /fragment \("#"\) in the query/ },
    { target: `${gv}/namespaces/public/../secret/widgets/gear`, cause: /"\.\." path segment/ },
    { target: `${gv}/namespaces/public/%2e%2E/secret/widgets`, cause: /percent-encoded "\.\." path segment/ },
    { target: `${gv}/namespaces/public/.%2e/secret/widgets`, cause: /percent-encoded "\.\."/ },
    { target: '/./x', cause: /"\." path segment/ },
    { target: `${gv}/namespaces/secret%2Fwidgets/gear`, cause: /encoded "\/" \(%2F\)/ },
    { target: `${gv}/namespaces/a%2fb`, cause: /%2F/ },
    { target: `${gv}/namespaces/a%252Fb`, cause: /encoded "%" \(%25\)/ },
    { target: '/x/%FF', cause: /not UTF-8/ },
    { target: '/x/%C3', cause: /not UTF-8/ },
    { target: '//x/apis', cause: /empty path segment/ },
    { target: `${gv}//namespaces/secret`, cause: /empty path segment/ },
    { target: '/x/%zz', cause: /malformed "%" escape in the path/, goRejects: true },
    { target: '/x/%4', cause: /malformed/, goRejects: true },
    { target: '/x?a=%zz', cause: /malformed "%" escape in the query/ },
    { target: '/x?watch=1;x=2', cause: /";" in the query/ },
    { target: '/x\u0007y', cause: /control character/, goRejects: true },
    { target: '/x\u007fy', cause: /control character/, goRejects: true },
    { target: '/x y', cause: /a space/ },
    { target: '/x/é', cause: /non-ASCII/ },
    { target: '*', cause: /asterisk-form/ },
    { target: 'localhost:8443', cause: /neither/ },
    { target: 'foo://x/y', cause: /neither/ },
    { target: 'mailto:x', cause: /neither/ },
    { target: '', cause: /neither/ },
    { target: 'http://x', cause: /without a path/ },
    { target: 'http://x?/apis/g/v1/namespaces/secret/widgets', cause: /without a path/ },
    { target: 'http://u@x/apis', cause: /host is not a plain DNS name/ },
    { target: 'http://x#y/apis', cause: /host/ },
    { target: 'http://x\\y/apis', cause: /host/ },
    { target: 'http://x:99999/apis', cause: /host/ },
    { target: 'http://[::1::2]/apis', cause: /host/ },
    { target: 'http://x/a;b', cause: /";" \(the router ends the path there\)/, semicolon: true },
    { target: '/apis/', cause: /trailing slash/, trailing: true },
  ];
  for (const c of refused) {
    const options = { semicolonDelimiter: c.semicolon === true, trailingSlashIgnored: c.trailing === true };
    it(`refuses ${JSON.stringify(c.target)} ${JSON.stringify(options)}: ${c.cause.source}`, () => {
      const r = checkRequestTarget(c.target, options);
      expect(r.ok).to.equal(false);
      if (r.ok) return;
      expect(r.cause).to.match(c.cause);
      expect(r.goRejects).to.equal(c.goRejects === true);
    });
  }

  it('a refusal Go would not give is a BadRequest Status (nosniff, no echo of the target); Go’s own stays its text', () => {
    const step = requestTargetStep('GET', `http://x${gv}\\namespaces\\secret`);
    expect(step.ok).to.equal(false);
    if (step.ok) return;
    expect(step.response.status).to.equal(400);
    expect(step.response.headers).to.deep.equal({
      'content-type': 'application/json',
      'x-content-type-options': 'nosniff',
    });
    expect(step.response.body).to.equal(
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"invalid request target: a backslash in the path","reason":"BadRequest","code":400}\n',
    );
    const go = checkRequestTarget('/x/%zz');
    expect(go.ok).to.equal(false);
    if (!go.ok) expect(requestTargetResponse(go)).to.equal(badRequestResponse);
  });

  it('logs the exact cause and the target at warn', () => {
    const lines: { fields: Record<string, unknown>; msg: string }[] = [];
    const logger = {
      debug() {},
      info() {},
      error() {},
      warn(fields: Record<string, unknown>, msg: string) {
        lines.push({ fields, msg });
      },
    };
    requestTargetStep('GET', '/a/../b', {}, logger as never);
    expect(lines).to.deep.equal([
      {
        fields: { method: 'GET', uri: '/a/../b', check: 'request-target', cause: 'a ".." path segment' },
        msg: 'request refused: invalid request target: a ".." path segment',
      },
    ]);
  });
});
