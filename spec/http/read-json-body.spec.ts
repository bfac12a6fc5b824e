import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import {
  jsonNestingDepth,
  readJsonBody,
  readRequestBody,
  type ReadJsonBodyOptions,
} from '../../lib/http/read-json-body.js';

interface Reply {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly json: Record<string, unknown>;
}

describe('http/read-json-body (one JSON body reader: Go 415/413/400)', () => {
  let server: Server;
  let url: string;
  let options: ReadJsonBodyOptions = { limit: 64 };
  let consumeFirst = false;
  /** Read with readRequestBody (text) instead of readJsonBody. */
  let asText = false;
  before(async () => {
    // A real node:http server answering what the reader returned: the value, or the failure as a metav1 Status.
    server = createServer((req, res) => {
      void (async () => {
        if (consumeFirst) for await (const _ of req) void _;
        const r = asText ? await readRequestBody(req, options) : await readJsonBody(req, options);
        const body = r.ok
          ? 'text' in r
            ? { ok: true, text: r.text, mediaType: r.mediaType }
            : { ok: true, value: r.value ?? null }
          : { kind: 'Status', code: r.failure.status, reason: r.failure.reason, message: r.failure.message };
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (!r.ok && r.failure.closeConnection) headers.connection = 'close';
        res.writeHead(r.ok ? 200 : r.failure.status, headers).end(JSON.stringify(body));
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  afterEach(() => {
    options = { limit: 64 };
    consumeFirst = false;
    asText = false;
  });

  /** Sends `body` (chunked when `chunked`, so no Content-Length announces the size). */
  const send = (body: string, headers: Record<string, string> = {}, chunked = false): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          headers: chunked ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () =>
            resolve({
              status: res.statusCode!,
              headers: res.headers,
              json: JSON.parse(text) as Record<string, unknown>,
            }),
          );
        },
      );
      req.on('error', reject);
      if (chunked) {
        for (let i = 0; i < body.length; i += 16) req.write(body.slice(i, i + 16));
        req.end();
      } else req.end(body);
    });
  const json = { 'content-type': 'application/json' };

  it('a JSON object is read (media type parameters and case ignored)', async () => {
    const r = await send('{"kind":"Widget"}', { 'content-type': 'Application/JSON; charset=utf-8' });
    expect(r.status).to.equal(200);
    expect(r.json).to.deep.equal({ ok: true, value: { kind: 'Widget' } });
  });

  const refusals: readonly {
    name: string;
    body: string;
    headers?: Record<string, string>;
    chunked?: boolean;
    options?: Partial<ReadJsonBodyOptions>;
    status: number;
    reason: string;
    message: RegExp;
    close?: boolean;
  }[] = [
    {
      name: 'another media type: 415 naming the accepted ones',
      body: '{}',
      headers: { 'content-type': 'application/yaml' },
      status: 415,
      reason: 'UnsupportedMediaType',
      message: /^the body of the request was in an unknown format - accepted media types include: application\/json$/,
    },
    {
      name: 'no Content-Type when it is required: 415',
      body: '{}',
      status: 415,
      reason: 'UnsupportedMediaType',
      message: /unknown format/,
    },
    {
      name: 'a JSON body where only merge-patch is accepted: 415',
      body: '{}',
      headers: json,
      options: { mediaTypes: ['application/merge-patch+json'] },
      status: 415,
      reason: 'UnsupportedMediaType',
      message: /accepted media types include: application\/merge-patch\+json$/,
    },
    {
      name: 'declared Content-Length over the limit: 413 before reading, connection closed',
      body: JSON.stringify({ pad: 'x'.repeat(100) }),
      headers: json,
      status: 413,
      reason: 'RequestEntityTooLarge',
      message: /^Request entity too large: limit is 64$/,
      close: true,
    },
    {
      name: 'a chunked body that grows over the limit: 413, connection closed',
      body: JSON.stringify({ pad: 'x'.repeat(200) }),
      headers: json,
      chunked: true,
      status: 413,
      reason: 'RequestEntityTooLarge',
      message: /^Request entity too large: limit is 64$/,
      close: true,
    },
    {
      name: 'an empty body: 400',
      body: '  \n',
      headers: json,
      status: 400,
      reason: 'BadRequest',
      message: /^the request body is empty$/,
    },
    {
      name: 'malformed JSON: 400 with the parser message',
      body: '{"kind":',
      headers: json,
      status: 400,
      reason: 'BadRequest',
      message: /^the request body is invalid JSON: /,
    },
    {
      name: 'nesting deeper than maxDepth: 400 before parsing',
      body: '['.repeat(11) + ']'.repeat(11),
      headers: json,
      options: { maxDepth: 10, requireObject: false },
      status: 400,
      reason: 'BadRequest',
      message: /^the request body nests deeper than 10 levels$/,
    },
    {
      name: 'a top-level array when an object is required: 400',
      body: '[1]',
      headers: json,
      status: 400,
      reason: 'BadRequest',
      message: /^the request body must be a JSON object$/,
    },
  ];
  for (const c of refusals) {
    it(c.name, async () => {
      options = { limit: 64, ...c.options };
      const r = await send(c.body, c.headers, c.chunked);
      expect(r.status).to.equal(c.status);
      expect(r.json.reason).to.equal(c.reason);
      expect(r.json.message).to.match(c.message);
      expect(r.headers.connection).to.equal(c.close ? 'close' : 'keep-alive');
    });
  }

  it('no Content-Type when allowed, an empty body when allowed, and a non-object when allowed', async () => {
    options = { limit: 64, allowMissingContentType: true, allowEmpty: true, requireObject: false };
    expect((await send('')).json).to.deep.equal({ ok: true, value: null });
    expect((await send('{"a":1}')).json).to.deep.equal({ ok: true, value: { a: 1 } });
    expect((await send('[1,"]"]', json)).json).to.deep.equal({ ok: true, value: [1, ']'] });
  });

  it('a body another parser already consumed: 500, never a re-serialised guess', async () => {
    consumeFirst = true;
    const r = await send('{"a":1}', json);
    expect(r.status).to.equal(500);
    expect(r.json).to.include({ reason: 'InternalError' });
    expect(r.json.message).to.match(/already consumed/);
  });

  it('readRequestBody: the text as sent (YAML apply configurations) with its media type; the same 415 and 413', async () => {
    asText = true;
    options = { limit: 64, mediaTypes: ['application/apply-patch+yaml'] };
    const yaml = 'kind: Widget\nspec:\n  size: 3\n';
    const ok = await send(yaml, { 'content-type': 'application/apply-patch+yaml; charset=utf-8' });
    expect(ok.status).to.equal(200);
    expect(ok.json).to.deep.equal({ ok: true, text: yaml, mediaType: 'application/apply-patch+yaml' });
    const wrong = await send(yaml, { 'content-type': 'application/json' });
    expect(wrong.status).to.equal(415);
    expect(wrong.json.message).to.equal(
      'the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml',
    );
    const big = await send('x'.repeat(65), { 'content-type': 'application/apply-patch+yaml' }, true);
    expect(big.status).to.equal(413);
    expect(big.headers.connection).to.equal('close');
    expect(big.json.message).to.equal('Request entity too large: limit is 64');
  });

  it('jsonNestingDepth ignores brackets inside strings and escaped quotes', () => {
    expect(jsonNestingDepth('{"a":"[[[{\\"]]"}')).to.equal(1);
    expect(jsonNestingDepth('[[{"a":[]}]]')).to.equal(4);
    expect(jsonNestingDepth('"no nesting"')).to.equal(0);
  });
});
