import type { IncomingMessage, ServerResponse } from 'node:http';
import { request, type Agent } from 'undici';
import type { ReviewWebhook } from '../../lib/webhook/token-review-webhook.js';
import { clientAgent, startTlsServer, type TestTlsServer } from '../support/tls-server.js';
import { waitFor } from '../support/wait-for.js';

export interface Served {
  readonly url: string;
  readonly agent: Agent;
  readonly server: TestTlsServer;
  close(): Promise<void>;
}

/** Serves one webhook handler on a real HTTPS server (127.0.0.1:0), writing its HttpResponse verbatim. */
export async function serveWebhook(webhook: ReviewWebhook): Promise<Served> {
  const server = await startTlsServer((req: IncomingMessage, res: ServerResponse) => {
    webhook.handle(req).then(
      (r) => {
        res.writeHead(r.status, r.headers);
        res.end(r.body);
      },
      (err: unknown) => {
        res.writeHead(599);
        res.end(String(err));
      },
    );
  });
  const agent = clientAgent();
  return {
    url: server.url,
    agent,
    server,
    close: async () => {
      if (!agent.destroyed && !agent.closed) await agent.close();
      await server.close();
    },
  };
}

export interface PostResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly json: Record<string, unknown> | undefined;
}

export async function post(
  served: Served,
  body: unknown,
  opts: { method?: 'POST' | 'GET' | 'PUT'; contentType?: string | null; path?: string; raw?: string | Buffer } = {},
): Promise<PostResult> {
  const headers: Record<string, string> = {};
  if (opts.contentType !== null) headers['content-type'] = opts.contentType ?? 'application/json';
  const payload = opts.raw ?? (opts.method === 'GET' ? undefined : JSON.stringify(body));
  const res = await request(`${served.url}${opts.path ?? '/'}`, {
    method: opts.method ?? 'POST',
    headers,
    ...(payload !== undefined ? { body: payload } : {}),
    dispatcher: served.agent,
  });
  const text = await res.body.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

export { recordingLogger, type LogLine } from '../support/recording-logger.js';

/**
 * Waits until `check` returns true; fails after `limitMs` naming `what`, so a failing test cannot keep the process
 * alive. A poll (every 20 ms) on purpose: its callers wait for states that emit no event (an identity mapping's
 * `status()`, a growing log).
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what = 'condition',
  limitMs = 15_000,
): Promise<void> {
  await waitFor(check, { what, timeoutMs: limitMs, intervalMs: 20 });
}
