import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { InvalidOptionError } from '../errors.js';
import type { TokenReviewUser, VerifyToken } from './token-review-webhook.js';

/** Parsed token file: SHA-256(token) → user. Keyed by digest so lookups do not compare secrets byte by byte. */
export type StaticTokenTable = ReadonlyMap<string, TokenReviewUser>;

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

/** RFC 4180 records as Go's encoding/csv reads them (FieldsPerRecord -1, no LazyQuotes, blank lines skipped). */
function readCsv(text: string, source: string): { line: number; fields: string[] }[] {
  const records: { line: number; fields: string[] }[] = [];
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n')) {
      i += text[i] === '\r' ? 2 : 1;
      line += 1;
      continue;
    }
    const startLine = line;
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        i += 1;
        for (;;) {
          if (i >= n)
            throw new InvalidOptionError([
              `${source}: parse error on line ${startLine}: extraneous or missing " in quoted-field`,
            ]);
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
            } else {
              i += 1;
              break;
            }
          } else {
            if (c === '\n') line += 1;
            field += c;
            i += 1;
          }
        }
        if (i < n && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          throw new InvalidOptionError([
            `${source}: parse error on line ${line}: extraneous or missing " in quoted-field`,
          ]);
        }
      } else {
        while (i < n && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          if (text[i] === '"')
            throw new InvalidOptionError([`${source}: parse error on line ${line}: bare " in non-quoted-field`]);
          field += text[i];
          i += 1;
        }
      }
      fields.push(field);
      if (i < n && text[i] === ',') {
        i += 1;
        continue;
      }
      break;
    }
    records.push({ line: startLine, fields });
  }
  return records;
}

/**
 * Parses kube-apiserver's `--token-auth-file` format: `token,user,uid[,"group1,group2"]`, at least three columns.
 * Like Go's tokenfile: empty tokens are skipped, a duplicate token's last line wins. Throws `InvalidOptionError`.
 */
export function parseTokenFile(text: string, source = 'token file'): StaticTokenTable {
  const table = new Map<string, TokenReviewUser>();
  for (const { line, fields } of readCsv(text, source)) {
    if (fields.length < 3) {
      throw new InvalidOptionError([
        `${source} must have at least 3 columns (token, user name, user uid), found ${fields.length} on line ${line}`,
      ]);
    }
    const [token, username, uid, groups] = fields as [string, string, string, string | undefined];
    if (token === '') continue;
    table.set(digest(token), {
      username,
      uid,
      ...(groups !== undefined ? { groups: groups.split(',') } : {}),
    });
  }
  return table;
}

/** A `verify` answering from a token table: unknown tokens are "not authenticated" (200), never an error. */
export function staticTokenVerifier(table: StaticTokenTable): VerifyToken {
  return async (token) => {
    const user = table.get(digest(token));
    return user ? { authenticated: true, user } : { authenticated: false };
  };
}

/** Reads and parses a token file once (kube-apiserver also reads it only at startup). */
export async function loadTokenFile(path: string): Promise<StaticTokenTable> {
  return parseTokenFile(await readFile(path, 'utf8'), `token file '${path}'`);
}
