// Graceful shutdown (issue 13 item 2) on real sockets, over createSecureServer (TLS) and a plain node:http server.
// Time is a manual clock: each phase is reached by advancing it, and every assertion waits for the event it checks
// (a response, a socket end, a refused connection) — no sleeps, nothing timed.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { expect } from 'chai';
import {
  gracefulShutdown,
  isLongRunningRequest,
  shutdownCheckMessage,
  type GracefulShutdown,
  type ShutdownClock,
} from '../../lib/apiserver/shutdown.js';
import { InvalidOptionError } from '../../lib/errors.js';
import { createSecureServer, type SecureServer } from '../../lib/server/secure-server.js';

/** Timers that fire only when the test advances time. */
class ManualClock implements ShutdownClock {
  private now = 0;
  private nextId = 0;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();
  setTimeout(callback: () => void, ms: number): unknown {
    const id = ++this.nextId;
    this.timers.set(id, { at: this.now + ms, callback });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Durations of the pending timers, relative to now. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.now).sort((a, b) => a - b);
  }
  advance(ms: number): void {
    this.now += ms;
    const due = [...this.timers].filter(([, t]) => t.at <= this.now).sort((a, b) => a[1].at - b[1].at);
    for (const [id, t] of due) {
      this.timers.delete(id);
      t.callback();
    }
  }
}

/** A hand-driven HTTP/1.1 client connection: what the server sends, and how the connection ended. */
class RawConnection {
  text = '';
  readonly ended: Promise<'end' | 'error'>;
  private readonly waiting: { re: RegExp; resolve: () => void }[] = [];
  readonly socket: Socket;
  constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.text += d;
      for (const w of [...this.waiting]) {
        if (w.re.test(this.text)) {
          this.waiting.splice(this.waiting.indexOf(w), 1);
          w.resolve();
        }
      }
    });
    this.ended = new Promise((resolve) => {
      socket.once('error', () => resolve('error'));
      socket.once('end', () => resolve('end'));
      socket.once('close', () => resolve('end'));
    });
  }
  send(path: string): void {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  }
  /** Resolves once the received bytes match `re` (rejects if the connection ends first). */
  until(re: RegExp): Promise<void> {
    if (re.test(this.text)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiting.push({ re, resolve });
      void this.ended.then((how) => {
        if (!re.test(this.text)) reject(new Error(`connection ${how} before ${re}; got:\n${this.text}`));
      });
    });
  }
}

/** Handler: `/fast` answers at once; `/slow` when the test releases it; watches stream until ended. */
function testHandler() {
  const slowArrived: (() => void)[] = [];
  const releases: (() => void)[] = [];
  const watchArrived: (() => void)[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/fast') {
      res.setHeader('content-length', '2');
      res.end('ok');
    } else if (req.url === '/slow') {
      releases.push(() => {
        res.setHeader('content-length', '4');
        res.end('slow');
      });
      for (const f of slowArrived.splice(0)) f();
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"type":"ADDED"}\n');
      for (const f of watchArrived.splice(0)) f();
    }
  };
  return {
    handler,
    slowArrived: () => new Promise<void>((r) => slowArrived.push(r)),
    watchArrived: () => new Promise<void>((r) => watchArrived.push(r)),
    releaseSlow: () => releases.shift()!(),
  };
}

const watchPath = '/apis/example.io/v1/namespaces/default/widgets?watch=true';

function refused(connectOnce: () => Socket): Promise<string> {
  return new Promise((resolve) => {
    const s = connectOnce();
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
  });
}

function settledFlag(p: Promise<unknown>): { settled: boolean } {
  const flag = { settled: false };
  void p.then(() => (flag.settled = true));
  return flag;
}

describe('apiserver/shutdown: graceful shutdown like Go', function () {
  describe('over createSecureServer (TLS)', function () {
    let secure: SecureServer;
    let gs: GracefulShutdown;
    const conns: RawConnection[] = [];

    afterEach(async function () {
      for (const c of conns.splice(0)) c.socket.destroy();
      gs?.dispose();
      await secure?.close();
    });

    const tlsConn = (): RawConnection => {
      const c = new RawConnection(
        tlsConnect({
          host: '127.0.0.1',
          port: secure.port,
          ca: secure.selfSignedCaPem!,
          servername: 'localhost',
        }),
      );
      conns.push(c);
      return c;
    };

    it('fails readyz at once, serves through the delay, then refuses new connections, finishes in-flight requests with Connection: close, closes idle keep-alive connections and ends watches at the grace end', async function () {
      const h = testHandler();
      const clock = new ManualClock();
      secure = createSecureServer({ handler: h.handler, selfSigned: {}, bindAddress: '127.0.0.1', securePort: 0 });
      gs = gracefulShutdown({
        server: secure,
        shutdownDelayDuration: 5_000,
        shutdownWatchTerminationGracePeriod: 3_000,
        shutdownTimeout: 60_000,
        clock,
        signals: [],
      });
      await secure.listen();
      expect(() => gs.readinessCheck.check()).not.to.throw();
      expect(gs.readinessCheck.name).to.equal('shutdown');

      // An idle keep-alive connection, a request in flight, and an open watch.
      const idle = tlsConn();
      idle.send('/fast');
      await idle.until(/\r\n\r\nok$/);
      expect(idle.text).not.to.match(/connection: close/i);
      const slow = tlsConn();
      const slowIn = h.slowArrived();
      slow.send('/slow');
      await slowIn;
      const watch = tlsConn();
      const watchIn = h.watchArrived();
      watch.send(watchPath);
      await watchIn;
      await watch.until(/ADDED/);
      expect(gs.inFlight).to.equal(2);

      const closed = gs.shutdown('test');
      const closedFlag = settledFlag(closed);
      // readyz fails before anything else changes: the listener is still open.
      expect(gs.phase).to.equal('delaying');
      expect(() => gs.readinessCheck.check()).to.throw(shutdownCheckMessage);
      expect(secure.server.listening).to.equal(true);
      expect(clock.pending()).to.deep.equal([5_000]);

      // During the delay the server serves new connections, and retires kept-alive ones after their response
      // (closeKeepAliveDuringDelay): the client dials again through the Service, now routed elsewhere.
      const during = tlsConn();
      during.send('/fast');
      await during.until(/\r\n\r\nok$/);
      expect(during.text).to.match(/^HTTP\/1\.1 200/);
      expect(during.text).to.match(/\r\nconnection: close\r\n/i);
      expect(await during.ended).to.equal('end');
      // A connection that stays idle through the delay is kept until the drain.
      expect(secure.server.listening).to.equal(true);

      clock.advance(5_000);
      await gs.whenPhase('draining');
      expect(secure.server.listening).to.equal(false);
      // New connections are refused once the delay is over.
      expect(await refused(() => netConnect(secure.port, '127.0.0.1'))).to.equal('ECONNREFUSED');
      // Idle keep-alive connections are closed cleanly (FIN, no reset).
      expect(await idle.ended).to.equal('end');

      // The in-flight request completes, told to close the connection, which the server then closes.
      h.releaseSlow();
      await slow.until(/\r\n\r\nslow$/);
      expect(slow.text).to.match(/^HTTP\/1\.1 200/);
      expect(slow.text).to.match(/\r\nconnection: close\r\n/i);
      expect(await slow.ended).to.equal('end');

      // The watch keeps streaming through its grace period, then is ended cleanly (terminating chunk).
      await new Promise<void>((r) => setImmediate(r));
      expect(closedFlag.settled).to.equal(false);
      expect(watch.text).not.to.match(/\r\n0\r\n\r\n$/);
      clock.advance(3_000);
      await watch.until(/\r\n0\r\n\r\n$/);
      expect(await watch.ended).to.equal('end');
      await closed;
      expect(gs.phase).to.equal('closed');
      expect(gs.inFlight).to.equal(0);
    });

    it('with closeKeepAliveDuringDelay: false, serves the delay exactly as before (keep-alive)', async function () {
      const h = testHandler();
      const clock = new ManualClock();
      secure = createSecureServer({ handler: h.handler, selfSigned: {}, bindAddress: '127.0.0.1', securePort: 0 });
      gs = gracefulShutdown({
        server: secure,
        shutdownDelayDuration: 1_000,
        closeKeepAliveDuringDelay: false,
        clock,
        signals: [],
      });
      await secure.listen();
      const closed = gs.shutdown();
      const during = tlsConn();
      during.send('/fast');
      await during.until(/\r\n\r\nok$/);
      expect(during.text).not.to.match(/connection: close/i);
      clock.advance(1_000);
      expect(await during.ended).to.equal('end');
      await closed;
    });

    it('destroys what is left when shutdownTimeout passes (a request that never finishes)', async function () {
      const h = testHandler();
      const clock = new ManualClock();
      secure = createSecureServer({ handler: h.handler, selfSigned: {}, bindAddress: '127.0.0.1', securePort: 0 });
      gs = gracefulShutdown({ server: secure, shutdownTimeout: 20_000, clock, signals: [] });
      await secure.listen();
      const hung = tlsConn();
      const arrived = h.slowArrived();
      hung.send('/slow');
      await arrived;
      const closed = gs.shutdown();
      await gs.whenPhase('draining');
      const closedFlag = settledFlag(closed);
      await new Promise<void>((r) => setImmediate(r));
      expect(closedFlag.settled).to.equal(false);
      expect(clock.pending()).to.deep.equal([20_000]);
      clock.advance(20_000);
      await closed;
      expect(await hung.ended).to.be.oneOf(['end', 'error']);
      expect(hung.text).to.equal('');
      expect(gs.phase).to.equal('closed');
    });
  });

  describe('over a plain node:http server', function () {
    it('with no delay: stops accepting at once, the in-flight request completes, close resolves after it', async function () {
      const h = testHandler();
      const clock = new ManualClock();
      const server = createHttpServer(h.handler);
      const gs = gracefulShutdown({ server, clock, signals: [] });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      const slow = new RawConnection(netConnect(port, '127.0.0.1'));
      const arrived = h.slowArrived();
      slow.send('/slow');
      await arrived;
      const closed = gs.shutdown();
      const closedFlag = settledFlag(closed);
      await gs.whenPhase('draining');
      expect(() => gs.readinessCheck.check()).to.throw(shutdownCheckMessage);
      expect(await refused(() => netConnect(port, '127.0.0.1'))).to.equal('ECONNREFUSED');
      expect(closedFlag.settled).to.equal(false);
      h.releaseSlow();
      await slow.until(/\r\n\r\nslow$/);
      expect(slow.text).to.match(/\r\nconnection: close\r\n/i);
      expect(await slow.ended).to.equal('end');
      await closed;
      expect(gs.phase).to.equal('closed');
      expect(server.listening).to.equal(false);
    });
  });

  describe('signals', function () {
    it('the first SIGTERM starts the shutdown, the second exits with status 1', async function () {
      const server = createHttpServer((_req, res) => res.end());
      const clock = new ManualClock();
      let exitCode: number | undefined;
      const exited = new Promise<void>((resolve) => {
        const gs = gracefulShutdown({
          server,
          shutdownDelayDuration: 1_000,
          clock,
          signals: ['SIGTERM'],
          exit: (code) => {
            exitCode = code;
            gs.dispose();
            resolve();
          },
        });
        void (async () => {
          await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
          process.kill(process.pid, 'SIGTERM');
          await gs.whenPhase('delaying');
          expect(() => gs.readinessCheck.check()).to.throw(shutdownCheckMessage);
          expect(server.listening).to.equal(true);
          process.kill(process.pid, 'SIGTERM');
        })();
      });
      await exited;
      expect(exitCode).to.equal(1);
      await new Promise<void>((r) => server.close(() => r()));
    });

    it('dispose() removes the handlers it installed', function () {
      const server = createHttpServer();
      const before = process.listenerCount('SIGINT');
      const gs = gracefulShutdown({ server, signals: ['SIGINT'] });
      expect(process.listenerCount('SIGINT')).to.equal(before + 1);
      gs.dispose();
      expect(process.listenerCount('SIGINT')).to.equal(before);
      expect(gs.phase).to.equal('running');
    });
  });

  describe('options', function () {
    it('refuses bad options, naming each and the Go flag', function () {
      let err: unknown;
      try {
        gracefulShutdown({
          server: {} as never,
          shutdownDelayDuration: -1,
          shutdownWatchTerminationGracePeriod: Number.NaN,
          shutdownTimeout: 0,
          signals: [],
        });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(InvalidOptionError);
      const problems = (err as InvalidOptionError).problems;
      expect(problems).to.have.length(4);
      expect(problems.join('\n')).to.include('"server"');
      expect(problems.join('\n')).to.include('--shutdown-delay-duration');
      expect(problems.join('\n')).to.include('--shutdown-watch-termination-grace-period');
      expect(problems.join('\n')).to.include('"shutdownTimeout"');
    });

    it("classifies long-running requests like Go's BasicLongRunningRequestCheck", function () {
      const req = (method: string, url: string) => ({ method, url }) as IncomingMessage;
      expect(isLongRunningRequest(req('GET', '/apis/g/v1/namespaces/ns/widgets?watch=true'))).to.equal(true);
      expect(isLongRunningRequest(req('GET', '/apis/g/v1/watch/widgets'))).to.equal(true);
      expect(isLongRunningRequest(req('GET', '/api/v1/namespaces/ns/pods/p/log'))).to.equal(true);
      expect(isLongRunningRequest(req('POST', '/api/v1/namespaces/ns/pods/p/exec'))).to.equal(true);
      expect(isLongRunningRequest(req('GET', '/apis/g/v1/namespaces/ns/widgets'))).to.equal(false);
      expect(isLongRunningRequest(req('GET', '/apis/g/v1/namespaces/ns/widgets?watch=false'))).to.equal(false);
      expect(isLongRunningRequest(req('GET', '/healthz'))).to.equal(false);
    });
  });
});
