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
