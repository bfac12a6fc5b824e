import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/** A TCP forwarder from one loopback port to another. */
export interface TcpForwarder {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Plays kube-proxy's part (on `listenPort`, or a port the kernel picks for 0: see `port`) for a host-run server: kube-apiserver dials an ExternalName Service at the APIService's
 * `service.port` (k8s.io/apiserver ResolveCluster ignores `targetPort` for ExternalName), so a Service port that
 * differs from the server's port needs something listening on the Service port. TLS passes through untouched, so
 * the aggregator's handshake (caBundle check, front-proxy client certificate) is end to end.
 */
export async function startTcpForwarder(
  listenPort: number,
  targetPort: number,
  host = '127.0.0.1',
): Promise<TcpForwarder> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, host, () => resolve());
  });
  let closed: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closed;
    },
  };
}
