import { connect } from 'node:tls';
import { expect } from 'chai';
import { panicResponse } from '../../lib/http/status.js';
import { Decision, authorizerFunc, type AuthorizationResult } from '../../lib/authz/interfaces.js';
import { delegatedAuthState, withDelegatedAuth } from '../../lib/node-http/with-delegated-auth.js';
import { staticCABundle } from '../../lib/trust/static.js';
import { recordingLogger } from '../support/recording-logger.js';
import { adapterSpecFixture, startTlsServer } from '../support/tls-server.js';
import { waitFor } from '../support/wait-for.js';

describe('node:http adapter withDelegatedAuth()', () => {
  const { pki, alice, servers, get } = adapterSpecFixture();

  it('passes the state as the third argument and through delegatedAuthState(req)', async () => {
    const s = await startTlsServer(
      withDelegatedAuth(
        (req, res, state) => {
          res.end(`${state.user.name} ${delegatedAuthState(req) === state} ${state.requestInfo.verb}`);
        },
        { clientCA: staticCABundle(pki.clientCA.certPem) },
      ),
    );
    servers.push(s);
    expect(await get(s, '/apis/g/v1/things', alice)).to.include({ status: 200, body: 'alice true list' });
  });

  it('a throwing handler: text/plain 500 and one error line; an async rejection is handled the same way', async () => {
    const log = recordingLogger();
    const s = await startTlsServer(
      withDelegatedAuth(
        async (req) => {
          if (req.url === '/sync') throw new Error('boom');
          await Promise.resolve();
          throw new Error('async boom');
        },
        { logger: log },
      ),
    );
    servers.push(s);
    // Go's WithPanicRecovery text: nothing of the error in the body, the message and stack in the log.
    expect(await get(s, '/sync')).to.include({ status: 500, body: panicResponse.body });
    expect(await get(s, '/async')).to.include({ status: 500, body: panicResponse.body });
    expect(log.lines.filter((l) => l.level === 'error').map((l) => l.msg)).to.deep.equal([
      'request handler failed unexpectedly: boom',
      'request handler failed unexpectedly: async boom',
    ]);
  });

  it('client gone during a slow review (in-process fake authorizer): nothing written, handler never runs', async () => {
    let release: ((r: AuthorizationResult) => void) | undefined;
    let onAuthorize: (() => void) | undefined;
    let signalAborted: Promise<void> | undefined;
    let handlerRan = false;
    const log = recordingLogger();
    const authorizer = authorizerFunc(
      (_a, signal) =>
        new Promise<AuthorizationResult>((resolve) => {
          release = resolve;
          onAuthorize?.();
          signalAborted = new Promise((done) => signal?.addEventListener('abort', () => done(), { once: true }));
        }),
    );
    const s = await startTlsServer(
      withDelegatedAuth(
        (_req, res) => {
          handlerRan = true;
          res.end('never');
        },
        { authorizer, logger: log },
      ),
    );
    servers.push(s);
    const socket = connect({ host: '127.0.0.1', port: Number(new URL(s.url).port), ca: pki.servingCA.certPem });
    await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
    socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    const answer = await waitFor(() => release, {
      what: 'the authorizer to be called',
      wakeOn: (wake) => {
        onAuthorize = wake;
        return () => (onAuthorize = undefined);
      },
    });
    socket.destroy();
    await signalAborted;
    answer({ decision: Decision.NoOpinion, reason: '' });
    const disconnected = () => log.lines.some((l) => l.msg === 'client disconnected while authorizing');
    await waitFor(disconnected, {
      what: 'the "client disconnected while authorizing" log line',
      wakeOn: (wake) => {
        log.logged.on('line', wake);
        return () => log.logged.off('line', wake);
      },
    });
    // From that line to the handler call (if the adapter wrongly made it) runs on promises only, no I/O: one turn of
    // the event loop lets every such continuation run, so a handler call would have happened by then.
    await new Promise((r) => setImmediate(r));
    expect(handlerRan).to.equal(false);
    expect(log.lines.map((l) => l.msg)).to.include('client disconnected while authorizing');
    expect(log.lines.some((l) => l.level === 'info' || l.level === 'error')).to.equal(false);
  });

  it('rejects a non-function handler and a bad authorizer at construction', () => {
    expect(() => withDelegatedAuth(undefined as never)).to.throw(TypeError, /"handler" must be a function/);
    expect(() => withDelegatedAuth(() => {}, { authorizer: {} as never })).to.throw(
      TypeError,
      /"authorizer" must implement authorize/,
    );
  });
});
