import { Agent, request } from 'undici';
import type { DirectRequest, DirectResponse } from './types.js';

/**
 * Sends one request straight to the sample server over TLS verified by `caPem` (with `servername` as the name to
 * check), with a fresh connection so that each client certificate is really presented in its own handshake.
 * Connection and TLS failures are returned as `error`, because for the spoofing cases "refused at the handshake" is
 * one of the acceptable answers.
 */
export async function directRequest(
  baseUrl: string,
  caPem: string,
  servername: string,
  req: DirectRequest,
): Promise<DirectResponse> {
  const agent = new Agent({
    connect: {
      ca: caPem,
      servername,
      ...(req.clientCert ? { cert: req.clientCert.certPem, key: req.clientCert.keyPem } : {}),
    },
    pipelining: 0,
  });
  try {
    const headers: Record<string, string | string[]> = { accept: 'application/json' };
    for (const [k, v] of Object.entries(req.headers ?? {}))
      headers[k.toLowerCase()] = typeof v === 'string' ? v : [...v];
    let body: string | undefined;
    if (req.body !== undefined) {
      body = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
      headers['content-type'] = 'application/json';
    }
    const res = await request(`${baseUrl}${req.path}`, {
      method: (req.method ?? 'GET') as 'GET',
      headers,
      ...(body !== undefined && { body }),
      dispatcher: agent,
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
    const text = await res.body.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.statusCode, text, body: parsed };
  } catch (err) {
    const e = err as Error & { code?: string };
    return { text: '', error: `${e.code ?? e.name}: ${e.message}` };
  } finally {
    await agent.close();
  }
}
