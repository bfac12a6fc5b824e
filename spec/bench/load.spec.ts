import { createServer, type Server } from 'node:https';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { expect } from 'chai';
import { mergeResults, percentile, runBurst, runLoad, summarise } from '../../bench/load.js';
import { createBenchPki, type BenchPki } from '../../bench/pki.js';

describe('bench/load', () => {
  describe('percentile (nearest rank)', () => {
    const sorted = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const cases = [
      { name: 'p50 of 1..10', p: 50, want: 5 },
      { name: 'p99 of 1..10', p: 99, want: 10 },
      { name: 'p100 of 1..10', p: 100, want: 10 },
      { name: 'p1 of 1..10', p: 1, want: 1 },
    ];
    for (const c of cases) it(c.name, () => expect(percentile(sorted, c.p)).to.equal(c.want));
    it('empty input is NaN', () => expect(percentile(new Float64Array(0), 50)).to.be.NaN);
  });

  describe('summarise / mergeResults', () => {
    it('rps is requests over the measured time and errors are summed by kind', () => {
      const a = summarise(Float64Array.from([3, 1, 2]), { status_500: 1 }, 1000);
      const b = summarise(Float64Array.from([4]), { status_500: 2, ECONNRESET: 1 }, 1000);
      const m = mergeResults([a, b]);
      expect(m.requests).to.equal(4);
      expect(m.rps).to.equal(2);
      expect(m.errorsByKind).to.deep.equal({ status_500: 3, ECONNRESET: 1 });
      expect(m.errors).to.equal(4);
      expect(m.p50Ms).to.equal(2);
      expect(m.maxMs).to.equal(4);
    });
  });

  describe('against a real mTLS server', () => {
    let pki: BenchPki;
    let server: Server;
    let origin: string;
    const seen = { requests: 0, withClientCert: 0, connections: 0, users: new Set<string>() };

    before(async () => {
      pki = createBenchPki();
      server = createServer(
        {
          cert: readFileSync(pki.servingCertFile),
          key: readFileSync(pki.servingKeyFile),
          ca: readFileSync(pki.requestheaderClientCaFile),
          requestCert: true,
          rejectUnauthorized: false,
        },
        (req, res) => {
          seen.requests++;
          if ((req.socket as TLSSocket).getPeerCertificate().subject?.CN === 'front-proxy-client')
            seen.withClientCert++;
          const user = req.headers['x-remote-user'];
          if (typeof user === 'string') seen.users.add(user);
          res.writeHead(req.url === '/forbidden' ? 403 : 200).end('ok');
        },
      );
      server.on('secureConnection', () => seen.connections++);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const addr = server.address();
      origin = `https://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    });
    after(async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      pki.close();
    });
    beforeEach(() => {
      seen.requests = 0;
      seen.withClientCert = 0;
      seen.connections = 0;
      seen.users.clear();
    });

    it('stops by itself at maxRequests, presents the client certificate and keeps connections alive', async () => {
      const r = await runLoad({
        origin,
        tls: pki.frontProxyClient,
        path: '/',
        connections: 4,
        durationMs: 60_000,
        maxRequests: 200,
        warmupMs: 0,
      });
      expect(r.requests).to.be.within(200, 204);
      expect(r.errors).to.equal(0);
      expect(seen.withClientCert).to.equal(seen.requests);
      expect(seen.connections).to.be.at.most(4);
      expect(r.p50Ms).to.be.greaterThan(0);
    });

    it('counts an unexpected status as an error of that kind', async () => {
      const r = await runLoad({
        origin,
        tls: pki.frontProxyClient,
        path: '/forbidden',
        connections: 2,
        durationMs: 60_000,
        maxRequests: 20,
        warmupMs: 0,
      });
      expect(r.requests).to.equal(0);
      expect(r.errorsByKind.status_403).to.be.at.least(20);
    });

    it('expectStatus makes that status a success', async () => {
      const r = await runLoad({
        origin,
        tls: pki.frontProxyClient,
        path: '/forbidden',
        connections: 2,
        durationMs: 60_000,
        maxRequests: 20,
        warmupMs: 0,
        expectStatus: 403,
      });
      expect(r.errors).to.equal(0);
      expect(r.requests).to.be.at.least(20);
    });

    it('newConnectionPerRequest opens one TLS connection per request', async () => {
      const r = await runLoad({
        origin,
        tls: pki.frontProxyClient,
        path: '/',
        connections: 2,
        durationMs: 60_000,
        maxRequests: 10,
        warmupMs: 0,
        newConnectionPerRequest: true,
      });
      expect(r.errors).to.equal(0);
      expect(seen.connections).to.equal(seen.requests);
    });

    it('headers as a function give every request its own identity', async () => {
      await runLoad({
        origin,
        tls: pki.frontProxyClient,
        path: '/',
        headers: (i) => ({ 'x-remote-user': `u${i}` }),
        connections: 3,
        durationMs: 60_000,
        maxRequests: 30,
        warmupMs: 0,
      });
      expect(seen.users.size).to.equal(seen.requests);
    });

    it('runBurst pre-connects every client, then sends one request each on the warm connections', async () => {
      const r = await runBurst({
        origin,
        tls: pki.frontProxyClient,
        requests: 20,
        warmupPath: '/',
        path: '/',
        headers: (i) => ({ 'x-remote-user': `burst-${i % 5}` }),
      });
      expect(r.statusCounts).to.deep.equal({ 200: 20 });
      expect(seen.connections).to.equal(20);
      expect(seen.requests).to.equal(40);
    });
  });
});
