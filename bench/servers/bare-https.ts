// Baseline: node:https with the shared TLS setup and a trivial handler, no authentication.
import { createServer } from 'node:https';
import { readConfig, serve, tlsOptions, trivialBody } from './child.js';

const cfg = readConfig();
const server = createServer(tlsOptions(cfg), (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(trivialBody) });
  res.end(trivialBody);
});
serve(server);
