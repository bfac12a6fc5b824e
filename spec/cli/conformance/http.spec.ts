// cli/conformance/http.ts against real TLS servers on loopback: raw request targets reach the server unchanged,
// chunked bodies decode, handshakes report chain/name verification and legacy protocols, and the TLS 1.2
// CertificateRequest's acceptable-CA list is read from the wire.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { expect } from 'chai';
import forge from 'node-forge';
import {
  clientCertificateRequest,
  handshake,
  parseResponse,
  rawRequest,
  type BackendEndpoint,
} from '../../../cli/conformance/http.js';
import { testPki } from '../../support/pki.js';

interface Started {
  readonly ep: BackendEndpoint;
  readonly seen: string[];
  close(): Promise<void>;
}

async function start(
  opts: Record<string, unknown>,
  handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('ok'),
): Promise<Started> {
  const pki = testPki();
  const seen: string[] = [];
  const server: Server = createServer({ cert: pki.serving.certPem, key: pki.serving.keyPem, ...opts }, (req, res) => {
    seen.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    ep: { host: '127.0.0.1', port, servername: 'localhost', caPem: pki.servingCA.certPem },
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const subjectHex = (pem: string) =>
  Buffer.from(
    forge.asn1.toDer(forge.pki.distinguishedNameToAsn1(forge.pki.certificateFromPem(pem).subject)).getBytes(),
    'binary',
  ).toString('hex');

describe('conformance probe: raw TLS requests and handshakes', function () {
  this.timeout(20_000);

  describe('rawRequest', () => {
    it('sends the request target byte for byte (no dot-segment removal, no re-encoding)', async () => {
      const s = await start({});
      try {
        for (const target of ['/healthz/../../apis/x', '/healthz\\..\\apis', '/a%2F..%2Fb', 'https://h/healthz/../x']) {
          const r = await rawRequest(s.ep, target);
          expect(r.status, target).to.equal(200);
        }
        expect(s.seen).to.deep.equal([
          '/healthz/../../apis/x',
          '/healthz\\..\\apis',
          '/a%2F..%2Fb',
          'https://h/healthz/../x',
        ]);
      } finally {
        await s.close();
      }
    });

    it('decodes a chunked body and presents the given client certificate', async () => {
      const pki = testPki();
      const s = await start({ requestCert: true, rejectUnauthorized: false, ca: pki.clientCA.certPem }, (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        res.write(`cn=${String(peer.subject?.CN ?? 'none')};`);
        res.end(`user=${req.headers['x-remote-user'] ?? ''}`);
      });
      try {
        const r = await rawRequest(s.ep, '/', {
          headers: [['X-Remote-User', 'mallory']],
          clientCert: { certPem: pki.alice.certPem, keyPem: pki.alice.keyPem },
        });
        expect(r.status).to.equal(200);
        expect(r.headers['transfer-encoding']).to.equal('chunked');
        expect(r.body).to.equal('cn=alice;user=mallory');
        const anon = await rawRequest(s.ep, '/');
        expect(anon.body).to.equal('cn=none;user=');
      } finally {
        await s.close();
      }
    });

    it('reports a refused connection as an error, not a status', async () => {
      const s = await start({});
      await s.close();
      const r = await rawRequest(s.ep, '/');
      expect(r.status).to.equal(undefined);
      expect(r.error).to.match(/^ECONNREFUSED: /);
    });
  });

  describe('parseResponse', () => {
    it('parses status, headers and a content-length body', () => {
      const r = parseResponse(Buffer.from('HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n\r\n{"a":1}'));
      expect(r).to.deep.equal({ status: 403, headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    });
    it('names empty and malformed answers', () => {
      expect(parseResponse(Buffer.alloc(0)).error).to.equal('ECONNRESET: connection closed without an answer');
      expect(parseResponse(Buffer.from('SSH-2.0-x\r\n\r\n')).error).to.equal('malformed status line: "SSH-2.0-x"');
      expect(parseResponse(Buffer.from('garbage')).error).to.equal('malformed answer: "garbage"');
    });
  });

  describe('handshake', () => {
    it('verifies the chain against the caBundle and the name the aggregator dials', async () => {
      const pki = testPki();
      const s = await start({});
      try {
        const ok = await handshake(s.ep);
        expect(ok).to.include({ ok: true, authorized: true });
        const otherCa = await handshake({ ...s.ep, caPem: pki.otherCA.certPem });
        expect(otherCa.authorized).to.equal(false);
        expect(otherCa.authorizationError).to.match(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/i);
        const wrongName = await handshake({ ...s.ep, servername: 'api.wardle.svc' });
        expect(wrongName.authorized).to.equal(false);
        expect(wrongName.authorizationError).to.equal(
          'serving certificate is not valid for api.wardle.svc (SANs: DNS:localhost, IP Address:127.0.0.1)',
        );
      } finally {
        await s.close();
      }
    });

    it('sees TLS 1.0 refused by a TLS 1.2+ server', async () => {
      const s = await start({ minVersion: 'TLSv1.2' });
      try {
        expect((await handshake(s.ep, { minVersion: 'TLSv1', maxVersion: 'TLSv1' })).ok).to.equal(false);
        expect((await handshake(s.ep, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1' })).ok).to.equal(false);
      } finally {
        await s.close();
      }
    });

    it('sees TLS 1.0 and 1.1 accepted by a server that still offers them', async () => {
      const s = await start({ minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
      try {
        expect(await handshake(s.ep, { minVersion: 'TLSv1', maxVersion: 'TLSv1' })).to.include({
          ok: true,
          protocol: 'TLSv1',
        });
        expect(await handshake(s.ep, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1' })).to.include({
          ok: true,
          protocol: 'TLSv1.1',
        });
      } finally {
        await s.close();
      }
    });
  });

  describe('clientCertificateRequest', () => {
    it('lists the acceptable CAs the server names', async () => {
      const pki = testPki();
      const s = await start({
        requestCert: true,
        rejectUnauthorized: false,
        ca: [pki.clientCA.certPem, pki.frontProxyCA.certPem],
      });
      try {
        const r = await clientCertificateRequest(s.ep);
        if (typeof r === 'string') throw new Error(r);
        expect(r.requested).to.equal(true);
        expect(r.acceptableCas.map((d) => d.toString('hex'))).to.have.members([
          subjectHex(pki.clientCA.certPem),
          subjectHex(pki.frontProxyCA.certPem),
        ]);
      } finally {
        await s.close();
      }
    });

    it('says when no client certificate is requested', async () => {
      const s = await start({});
      try {
        expect(await clientCertificateRequest(s.ep)).to.deep.equal({ requested: false, acceptableCas: [] });
      } finally {
        await s.close();
      }
    });

    it('gives the reason when the server speaks TLS 1.3 only', async () => {
      const s = await start({ minVersion: 'TLSv1.3', requestCert: true, rejectUnauthorized: false });
      try {
        expect(await clientCertificateRequest(s.ep)).to.match(
          /^no TLS 1\.2 handshake \(.+\): the backend may serve TLS 1\.3 only/,
        );
      } finally {
        await s.close();
      }
    });
  });
});
