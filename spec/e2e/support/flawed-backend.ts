// Deliberately broken extension apiservers for the conformance tool's end-to-end spec: small node:https servers
// that do delegated auth by hand (TokenReview, SubjectAccessReview through the control plane's admin client) with
// one named flaw each, registered behind a real APIService so the aggregator and the tool reach them as usual.
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ControlPlane } from '../../../harness/control-plane.js';
import { prepareExtensionServer, type RegisteredApiService } from '../../../harness/register-apiservice.js';

export type Flaw =
  /** Reads X-Remote-* from any connection, certificate or not. */
  | 'trusts-headers-without-certificate'
  /** Reads X-Remote-* from any verified client certificate (front-proxy CA or client CA), no allowed-names check. */
  | 'trusts-any-client-ca-certificate'
  /** Always-allows raw paths starting with /healthz, then routes on the WHATWG-normalized path. */
  | 'authorizes-other-path'
  /** Its always-allowed /healthz?verbose lists configuration (file paths). */
  | 'health-answers-data';

export interface FlawedBackend {
  readonly apiServiceName: string;
  readonly port: number;
  stop(): Promise<void>;
}

interface User {
  readonly user: string;
  readonly groups: string[];
}

const headerList = (req: IncomingMessage, name: string): string[] => {
  const out: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === name) out.push(req.rawHeaders[i + 1]!);
  }
  return out;
};

/** Starts the server with `flaw`, registers `v1.<name>.flawed.kda.example.com`, and waits until it is routed. */
export async function startFlawedBackend(cp: ControlPlane, name: string, flaw: Flaw): Promise<FlawedBackend> {
  const group = `${name}.flawed.kda.example.com`;
  const setup = await prepareExtensionServer(cp, { group, version: 'v1', namespace: 'kda-flawed', serviceName: name });
  const frontProxyCa = new X509Certificate(cp.pki.frontProxyCa.certPem);
  const gv = `/apis/${group}/v1`;

  const authenticate = async (req: IncomingMessage): Promise<User | 'unauthorized'> => {
    const socket = req.socket as TLSSocket;
    const peer = socket.authorized ? socket.getPeerCertificate() : undefined;
    const fromFrontProxy =
      peer?.raw !== undefined &&
      new X509Certificate(peer.raw).checkIssued(frontProxyCa) &&
      peer.subject.CN === 'front-proxy-client';
    const headerUser = headerList(req, 'x-remote-user')[0];
    const trustHeaders =
      fromFrontProxy ||
      flaw === 'trusts-headers-without-certificate' ||
      (flaw === 'trusts-any-client-ca-certificate' && peer !== undefined);
    if (trustHeaders && headerUser) return { user: headerUser, groups: headerList(req, 'x-remote-group') };
    if (peer && !fromFrontProxy) {
      const o = peer.subject.O;
      return {
        user: String(peer.subject.CN),
        groups: [...(o === undefined ? [] : Array.isArray(o) ? o : [o]), 'system:authenticated'],
      };
    }
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) {
      const r = await cp.admin.request<{
        status?: { authenticated?: boolean; user?: { username: string; groups?: string[] } };
      }>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: auth.slice(7) } },
      });
      const u = r.body.status?.user;
      return r.body.status?.authenticated && u ? { user: u.username, groups: u.groups ?? [] } : 'unauthorized';
    }
    return { user: 'system:anonymous', groups: ['system:unauthenticated'] };
  };

  const allowed = async (u: User, path: string): Promise<boolean> => {
    const resource = path === `${gv}/things` ? { group, version: 'v1', resource: 'things', verb: 'list' } : undefined;
    const r = await cp.admin.request<{ status?: { allowed?: boolean } }>(
      'POST',
      '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      {
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: u.user,
            groups: u.groups,
            ...(resource ? { resourceAttributes: resource } : { nonResourceAttributes: { path, verb: 'get' } }),
          },
        },
      },
    );
    return r.body.status?.allowed === true;
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const raw = req.url ?? '/';
    const routed = new URL(raw, 'https://backend.invalid').pathname;
    const rawPath = raw.split('?')[0]!;
    if (flaw !== 'authorizes-other-path' && routed !== rawPath) return send(res, 404, { kind: 'Status', code: 404 });
    const alwaysAllow = flaw === 'authorizes-other-path' ? raw.startsWith('/healthz') : routed === '/healthz';
    if (!alwaysAllow) {
      const u = await authenticate(req);
      if (u === 'unauthorized') return send(res, 401, { kind: 'Status', code: 401, reason: 'Unauthorized' });
      if (!(await allowed(u, routed))) return send(res, 403, { kind: 'Status', code: 403, reason: 'Forbidden' });
    }
    switch (routed) {
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain' });
        if (flaw === 'health-answers-data' && /[?&]verbose/.test(raw)) {
          return res.end(
            '[+]ping ok\n[+]config ok: /etc/flawed/config.yaml, token /var/run/secrets/flawed/token\nhealthz check passed\n',
          );
        }
        return res.end('ok');
      case gv:
        return send(res, 200, {
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion: `${group}/v1`,
          resources: [
            { name: 'things', singularName: 'thing', namespaced: false, kind: 'Thing', verbs: ['get', 'list'] },
          ],
        });
      case `${gv}/things`:
        return send(res, 200, {
          kind: 'ThingList',
          apiVersion: `${group}/v1`,
          items: [{ metadata: { name: 'secret-thing' } }],
        });
      default:
        return send(res, 404, { kind: 'Status', code: 404, reason: 'NotFound' });
    }
  };

  const server: Server = createServer(
    {
      cert: setup.servingPki.serving.certPem,
      key: setup.servingPki.serving.keyPem,
      ca: [cp.pki.frontProxyCa.certPem, cp.pki.ca.certPem],
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    (req, res) => {
      handle(req, res).catch((err: unknown) => send(res, 500, { kind: 'Status', code: 500, message: String(err) }));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let registration: RegisteredApiService | undefined;
  const stop = async () => {
    await registration?.unregister().catch(() => {});
    registration = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  try {
    registration = await setup.register(port);
  } catch (err) {
    await stop();
    throw err;
  }
  return { apiServiceName: registration.apiServiceName, port, stop };
}
