// createSecureServer()'s read deadline before the first request byte (Go's ReadHeaderTimeout from the start of the
// connection): a TLS connection that sends nothing is closed after readHeaderTimeout, one that sent its request is
// left to Node's own timeouts. The deadline must not put a 'data' listener on the socket: that makes Node's HTTP
// server stop parsing from C++ and route every read of the connection through JS streams, so the connection must
// carry exactly the listeners a plain node:https server gives it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { expect } from 'chai';
import { createSecureServer, type SecureServer } from '../../lib/server/secure-server.js';
import { testPki } from '../support/pki.js';

const pki = testPki();

function tls(port: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: pki.servingCA.certPem, servername: 'localhost' });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

const closed = (s: TLSSocket) =>
  s.closed ? Promise.resolve() : new Promise<void>((resolve) => s.once('close', () => resolve()));

/** Sends one GET and resolves with the status line of the answer. */
function get(s: TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    s.once('data', (d: Buffer) => resolve(d.toString('latin1').split('\r\n')[0]!));
    s.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
  });
}

describe('createSecureServer: the deadline before the first request byte', () => {
  let dir: string;
  let secure: SecureServer | undefined;
  let plain: Server | undefined;
  const dataListeners = { secure: -1, plain: -1 };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kda-first-byte-'));
    writeFileSync(join(dir, 'tls.crt'), pki.serving.certPem);
    writeFileSync(join(dir, 'tls.key'), pki.serving.keyPem);
  });
  afterEach(async () => {
    await secure?.close();
    await new Promise<void>((resolve) => (plain ? plain.close(() => resolve()) : resolve()));
    secure = plain = undefined;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function startSecure(readHeaderTimeout: number): Promise<number> {
    secure = createSecureServer({
      handler: (req, res) => {
        dataListeners.secure = req.socket.listenerCount('data');
        res.end('ok');
      },
      tlsCertFile: join(dir, 'tls.crt'),
      tlsPrivateKeyFile: join(dir, 'tls.key'),
      bindAddress: '127.0.0.1',
      securePort: 0,
      readHeaderTimeout,
    });
    await secure.listen();
    return secure.port;
  }

  it('closes a connection that sends nothing, and keeps one whose request arrived in time', async () => {
    const port = await startSecure(300);
    const busy = await tls(port);
    expect(await get(busy)).to.equal('HTTP/1.1 200 OK');
    // Opened after `busy`, so the server's deadline of `busy` has expired once this one is closed by its own.
    const idle = await tls(port);
    await closed(idle);
    expect(idle.destroyed).to.equal(true);
    expect(busy.destroyed).to.equal(false);
    expect(await get(busy)).to.equal('HTTP/1.1 200 OK');
    busy.destroy();
  });

  it('adds no data listener to the connection: the same listeners as a plain node:https server', async () => {
    const port = await startSecure(30_000);
    plain = createHttpsServer({ cert: pki.serving.certPem, key: pki.serving.keyPem }, (req, res) => {
      dataListeners.plain = req.socket.listenerCount('data');
      res.end('ok');
    });
    await new Promise<void>((resolve) => plain!.listen(0, '127.0.0.1', resolve));
    const a = await tls(port);
    const b = await tls((plain.address() as AddressInfo).port);
    expect(await get(a)).to.equal('HTTP/1.1 200 OK');
    expect(await get(b)).to.equal('HTTP/1.1 200 OK');
    expect(dataListeners.plain).to.be.at.least(0);
    expect(dataListeners.secure).to.equal(dataListeners.plain);
    a.destroy();
    b.destroy();
  });
});
