import { expect } from 'chai';
import { KubeApiError } from '../../lib/cluster/rest-client.js';
import { InvalidOptionError, KdaError } from '../../lib/errors.js';
import {
  cliDebugEnabled,
  explainError,
  oneLine,
  startupErrorLines,
  startupStep,
  StartupError,
} from '../../lib/startup/startup-error.js';

function errno(code: string, fields: Record<string, unknown> = {}): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: something, open '/x'`), { code, ...fields });
}

describe('cli/startup-error', () => {
  describe('explainError', () => {
    it('file errno codes: the cause without the path the subject already names', () => {
      expect(explainError(errno('ENOENT', { path: '/etc/ca.crt' }), { file: '/etc/ca.crt' })).to.deep.equal({
        reason: 'no such file or directory (ENOENT)',
      });
      // Another path (a file the kubeconfig names) is part of the reason.
      expect(explainError(errno('EACCES', { path: '/other' }), { file: '/etc/ca.crt' }).reason).to.equal(
        '/other: permission denied (EACCES)',
      );
    });

    it('listen errors: in use, not permitted, not an address of this host; each with a fix', () => {
      const inUse = explainError(errno('EADDRINUSE', { syscall: 'listen', address: '127.0.0.1', port: 8443 }));
      expect(inUse.reason).to.equal('127.0.0.1:8443 is already in use by another process');
      expect(inUse.fix).to.match(/--secure-port/);
      expect(explainError(errno('EACCES', { syscall: 'listen', address: '0.0.0.0', port: 443 })).fix).to.equal(
        '--secure-port 8443',
      );
      expect(explainError(errno('EADDRNOTAVAIL', { syscall: 'listen', address: '10.1.1.1', port: 1 })).reason).to.equal(
        '10.1.1.1 is not an address of this host',
      );
    });

    it('kube-apiserver: 401, 403 with the library fix, TLS and unreachable, found through the cause chain', () => {
      const wrapped = (e: Error, fix?: string) =>
        new KdaError('ERR_KDA_TRUST_UNAVAILABLE', `unable to load: ${e.message}`, {
          cause: e,
          ...(fix !== undefined && { details: { fix } }),
        });
      const url = 'Get "https://k:6443/api/v1/namespaces/kube-system/configmaps"';
      const forbidden = new KubeApiError(`${url}: configmaps is forbidden`, { statusCode: 403, reason: 'Forbidden' });
      expect(explainError(wrapped(forbidden, 'kubectl create rolebinding x'))).to.deep.equal({
        reason: 'forbidden (403): configmaps is forbidden',
        fix: 'kubectl create rolebinding x',
      });
      const unauthorized = new KubeApiError(`${url}: Unauthorized`, { statusCode: 401 });
      expect(explainError(wrapped(unauthorized), { kubectlFlags: '--kubeconfig /k' }).fix).to.match(
        /kubectl --kubeconfig \/k auth whoami/,
      );
      const tls = new KubeApiError(`${url}: self-signed certificate`, { networkCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
      expect(explainError(wrapped(tls)).reason).to.match(/^TLS: kube-apiserver's certificate is not trusted/);
      const refused = new KubeApiError(`${url}: connect ECONNREFUSED`, { networkCode: 'ECONNREFUSED' });
      expect(explainError(wrapped(refused)).reason).to.equal(
        'cannot reach kube-apiserver (connection refused): connect ECONNREFUSED',
      );
    });

    it('InvalidOptionError lists its problems; anything else is its first message line', () => {
      expect(explainError(new InvalidOptionError(['a', 'b'])).reason).to.equal('a; b');
      expect(explainError(new Error('first line\n  second line\n    at x (y.ts:1:2)')).reason).to.equal('first line');
    });

    it('a cyclic cause chain terminates', () => {
      const a = new Error('a') as Error & { cause?: unknown };
      const b = new Error('b', { cause: a });
      a.cause = b;
      expect(explainError(a).reason).to.equal('a');
    });
  });

  describe('startupStep', () => {
    it('wraps a failure in a StartupError naming the subject, without repeating the file', async () => {
      const err = await startupStep(
        '--policy-file /p.yaml',
        () => {
          throw new InvalidOptionError(['/p.yaml: "rules" must be a list']);
        },
        { file: '/p.yaml' },
      ).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(StartupError);
      expect((err as StartupError).line).to.equal('--policy-file /p.yaml: "rules" must be a list');
    });

    it('passes a StartupError through unchanged and returns the value on success', async () => {
      const inner = new StartupError('--a', 'b', 'c');
      expect(await startupStep('--x', () => Promise.reject(inner)).catch((e: unknown) => e)).to.equal(inner);
      expect(await startupStep('--x', () => 42)).to.equal(42);
    });
  });

  describe('startupErrorLines', () => {
    it('one `error:` line; the fix after "; fix:"; never a stack without debug', () => {
      expect(startupErrorLines(new StartupError('--client-ca-file /c', 'not PEM', 'regenerate'), false)).to.deep.equal([
        'error: --client-ca-file /c: not PEM; fix: regenerate',
      ]);
      const unexpected = new TypeError('x.problems is not iterable');
      expect(startupErrorLines(unexpected, false)).to.deep.equal(['error: x.problems is not iterable']);
      expect(startupErrorLines('a string', false)).to.deep.equal(['error: a string']);
      expect(startupErrorLines(new Error(''), false)).to.deep.equal(['error: unknown error']);
    });

    it('with debug, the stack and the causes follow the line', () => {
      const lines = startupErrorLines(new Error('outer', { cause: new Error('inner') }), true);
      expect(lines[0]).to.equal('error: outer');
      expect(lines.slice(1).join('\n'))
        .to.match(/Error: outer\n\s+at /)
        .and.match(/Error: inner/);
    });

    it('debug is NODE_DEBUG=kube-delegated-auth (among other modules), as for the library logger', () => {
      expect(cliDebugEnabled({ NODE_DEBUG: 'http,kube-delegated-auth' })).to.equal(true);
      expect(cliDebugEnabled({ NODE_DEBUG: 'kube-*' })).to.equal(true);
      expect(cliDebugEnabled({ NODE_DEBUG: 'http' })).to.equal(false);
      expect(cliDebugEnabled({ NODE_DEBUG: 'kube-delegated-auth-x' })).to.equal(false);
      expect(cliDebugEnabled({})).to.equal(false);
    });
  });

  it('oneLine keeps the first non-empty line', () => {
    expect(oneLine('\n  a \nb')).to.equal('a');
  });
});
