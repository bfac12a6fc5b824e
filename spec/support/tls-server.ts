import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Agent } from 'undici';
import { testPki, type TestCert } from './pki.js';

export interface TestTlsServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * An HTTPS server on 127.0.0.1:0 that requests (but does not require or check) a client certificate, like an
 * extension apiserver: verification is the library's job. `ca` is only the acceptable-CA hint sent to clients.
 */
export async function startTlsServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  options: { readonly ca?: string } = {},
): Promise<TestTlsServer> {
  const pki = testPki();
  const server = createServer(
    {
      cert: pki.serving.certPem,
      key: pki.serving.keyPem,
      requestCert: true,
      rejectUnauthorized: false,
      ca: options.ca ?? pki.frontProxyCA.certPem + pki.clientCA.certPem,
      keepAliveTimeout: 30_000,
    },
    handler,
  );
  // Raw sockets, so close() also ends connections still in the TLS handshake (closeAllConnections only knows HTTP ones).
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `https://127.0.0.1:${port}`,
    server,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

/** An undici Agent that trusts the test serving CA and presents `cert` (chain included), if given. */
export function clientAgent(cert?: TestCert): Agent {
  const pki = testPki();
  return new Agent({
    connect: cert
      ? { ca: pki.servingCA.certPem, cert: cert.chainPem, key: cert.keyPem }
      : { ca: pki.servingCA.certPem },
  });
}

/** A GET's answer: status, headers and the body as text. */
export interface TextAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** What the adapter specs share: the clients, the servers their tests start, and a GET. */
export interface AdapterSpecFixture {
  readonly pki: ReturnType<typeof testPki>;
  /** No client certificate. */
  readonly anonymous: Agent;
  /** pki.alice's client certificate. */
  readonly alice: Agent;
  /** Push what a test starts: closed after each test. */
  readonly servers: TestTlsServer[];
  /** GET `path` from `server` as `agent` (default anonymous). */
  get(server: TestTlsServer, path: string, agent?: Agent): Promise<TextAnswer>;
}

/**
 * The fixture of an adapter spec, for the calling `describe`: its agents are closed after it, the servers its tests
 * push to `servers` after each test.
 */
export function adapterSpecFixture(): AdapterSpecFixture {
  const pki = testPki();
  const anonymous = clientAgent();
  const alice = clientAgent(pki.alice);
  const servers: TestTlsServer[] = [];
  after(async () => {
    await Promise.all([anonymous.close(), alice.close()]);
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return {
    pki,
    anonymous,
    alice,
    servers,
    async get(server, path, agent = anonymous) {
      const res = await agent.request({ origin: server.url, path, method: 'GET' });
      return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
    },
  };
}
