const hex = (c: number): number => {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
};

/**
 * Go's `url.PathUnescape`: `%XX` (either hex case) becomes that byte, `+` stays `+`, anything else is literal.
 * Returns undefined for a malformed escape (`%zz`, a trailing `%`), where Go returns an error. Decoded bytes are read
 * as UTF-8 (invalid sequences become U+FFFD, as Go's JSON encoding later does).
 */
export function pathUnescape(s: string): string | undefined {
  if (!s.includes('%')) return s;
  const src = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c !== 0x25) {
      out[n++] = c;
      continue;
    }
    if (i + 2 >= src.length) return undefined;
    const hi = hex(src[i + 1]!);
    const lo = hex(src[i + 2]!);
    if (hi < 0 || lo < 0) return undefined;
    out[n++] = hi * 16 + lo;
    i += 2;
  }
  return out.subarray(0, n).toString('utf8');
}

/** k8s.io/apiserver `unescapeExtraKey`: PathUnescape, or the key unchanged when it is malformed. */
export function unescapeExtraKey(encodedKey: string): string {
  return pathUnescape(encodedKey) ?? encodedKey;
}
