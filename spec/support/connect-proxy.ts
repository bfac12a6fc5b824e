// A test peer: a real HTTP CONNECT proxy (node:http) on 127.0.0.1:0, the kind of forward proxy (squid, tinyproxy) a
// kube-apiserver client meets behind HTTPS_PROXY or a kubeconfig proxy-url. It tunnels to loopback targets only
// (anything else is answered 403, so a test can never send traffic off the machine) and records every tunnel: its
// target and the Proxy-Authorization it was opened with.
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface TunnelRecord {
  /** The CONNECT target, `host:port`. */
  readonly target: string;
  /** The `Proxy-Authorization` header, if the client sent one. */
  readonly proxyAuthorization: string | undefined;
}

export interface ConnectProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Tunnels opened so far, in order. */
  readonly tunnels: TunnelRecord[];
  close(): Promise<void>;
}

/** Hosts the proxy will tunnel to: this machine's own addresses only. */
const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]', '0.0.0.0']);

export async function startConnectProxy(): Promise<ConnectProxy> {
  const tunnels: TunnelRecord[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => {
    // Plain proxied requests are not what a client of an https apiserver sends.
    res.writeHead(405).end();
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('connect', (req, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target);
    if (!m || !loopbackHosts.has(m[1]!)) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    tunnels.push({ target, proxyAuthorization: req.headers['proxy-authorization'] });
    const upstream = connect(Number(m[2]), m[1]!.replace(/^\[|\]$/g, ''), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
