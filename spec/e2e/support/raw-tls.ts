// Requests written byte for byte, for the e2e specs that send what HTTP clients would not.
import { connect } from 'node:tls';

/**
 * One raw HTTP/1.1 request over TLS, so that the request line and header lines reach the server exactly as written
 * (HTTP clients merge or refuse repeated `Connection` lines, and `new URL()` rewrites `\`, `#` and `..` in a target).
 * Resolves to the status code and the body (de-chunked).
 */
export function rawTlsRequest(
  url: string,
  tls: { readonly ca: string; readonly cert?: string; readonly key?: string },
  lines: readonly string[],
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: u.hostname, port: Number(u.port), ...tls, servername: 'localhost' }, () => {
      socket.write([...lines, `Host: ${u.host}`, '', ''].join('\r\n'));
    });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
      const head = data.indexOf('\r\n\r\n');
      if (head < 0) return;
      const length = /\r\ncontent-length: *(\d+)/i.exec(data.slice(0, head));
      const chunked = /\r\ntransfer-encoding: *chunked/i.test(data.slice(0, head));
      if (length ? data.length - head - 4 >= Number(length[1]) : chunked && data.endsWith('\r\n0\r\n\r\n')) {
        socket.end();
      }
    });
    socket.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      const head = data.indexOf('\r\n\r\n');
      const body = data.slice(head + 4);
      resolve({ status, body: /\r\ntransfer-encoding: *chunked/i.test(data.slice(0, head)) ? unchunk(body) : body });
    });
    socket.on('error', reject);
    socket.setTimeout(30_000, () => socket.destroy(new Error('no answer within 30 s')));
  });
}

/** The payload of a `Transfer-Encoding: chunked` body (chunk extensions and trailers ignored). */
function unchunk(body: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    const size = parseInt(body.slice(at, eol), 16);
    if (!(size > 0)) return out;
    out += body.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}
