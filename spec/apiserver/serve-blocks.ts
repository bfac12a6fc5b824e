// Serves kube-delegated-auth/apiserver blocks on a real HTTPS socket (127.0.0.1, ephemeral port) with the library's
// node:http step `serveBlocks`; what no block serves gets a plain 404 marked `x-fallthrough`, so specs can tell
// "not this block's path" from a block's own answer.
import type { Agent } from 'undici';
import { request } from 'undici';
import { serveBlocks, type BlockHandler } from '../../lib/apiserver/index.js';
import { clientAgent, startTlsServer } from '../support/tls-server.js';

export interface BlockServer {
  readonly url: string;
  get(
    path: string,
    headers?: Record<string, string>,
    method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE',
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>;
  close(): Promise<void>;
}

export async function startBlockServer(...blocks: BlockHandler[]): Promise<BlockServer> {
  const serve = serveBlocks(...blocks);
  const server = await startTlsServer((req, res) => {
    serve(req, res).then(
      (served) => {
        if (served) return;
        res.writeHead(404, { 'x-fallthrough': 'true', 'content-type': 'text/plain' });
        res.end('not served by a block\n');
      },
      (err: unknown) => {
        res.writeHead(599, { 'content-type': 'text/plain' });
        res.end(`block threw: ${String(err)}\n`);
      },
    );
  });
  const agent: Agent = clientAgent();
  return {
    url: server.url,
    async get(path, headers = {}, method = 'GET') {
      const res = await request(server.url + path, { dispatcher: agent, headers, method });
      return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
    },
    async close() {
      await agent.close();
      await server.close();
    },
  };
}
