import { expect } from 'chai';
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KdaError } from '../../lib/errors.js';
import {
  IdentityMapping,
  configMapMappingSource,
  fileMappingSource,
  type MappingSource,
} from '../../lib/mapping/identity-mapping.js';
import { eventually, recordingLogger } from '../webhook/helpers.js';

const good1 = 'mappings:\n  - match: { subject: "alice" }\n    username: "user:{{subject}}"\n    groups: ["devs"]\n';
const good2 = 'mappings:\n  - match: { subject: "alice" }\n    username: "user:{{subject}}"\n    groups: ["admins"]\n';
const broken = 'mappings:\n  - match: { subject: "alice"\n    username: [\n';
const invalid = 'mappings:\n  - match: { subject: "alice" }\n    username: "system:admin"\n';

describe('mapping/IdentityMapping with a watched file', () => {
  let dir: string;
  let file: string;
  let mapping: IdentityMapping;
  const logger = recordingLogger();
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kda-mapping-'));
    file = join(dir, 'mapping.yaml');
    writeFileSync(file, good1);
    // A long poll interval: these tests pass only if fs.watch delivers the edits.
    mapping = new IdentityMapping({ source: fileMappingSource(file), pollIntervalMs: 60_000, debounceMs: 20, logger });
    await mapping.start();
  });
  afterEach(async () => {
    await mapping.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('maps after start and reports version 1', () => {
    expect(mapping.map({ subject: 'alice' })).to.deep.equal({
      name: 'user:alice',
      uid: '',
      groups: ['devs'],
      extra: {},
    });
    expect(mapping.map({ subject: 'bob' })).to.equal(undefined);
    expect(mapping.status()).to.include({ loaded: true, version: 1, errorCount: 0, rules: 1, source: `file:${file}` });
    expect(mapping.status().lastError).to.equal(undefined);
  });

  it('a broken edit keeps the last good mapping and reports the error; a good edit then applies', async () => {
    logger.lines.length = 0;
    writeFileSync(file, broken);
    await eventually(() => mapping.status().lastError !== undefined, 'the parse error');
    const st = mapping.status();
    expect(st).to.include({ loaded: true, version: 1 });
    expect(st.lastError).to.match(/not valid YAML/);
    expect(st.lastErrorAt).to.be.instanceOf(Date);
    expect(mapping.map({ subject: 'alice' })?.groups).to.deep.equal(['devs']);
    const line = logger.lines.find((l) => l.level === 'error');
    expect(line?.msg).to.match(/keeping the last known good mapping/);
    expect(line?.fields).to.deep.include({ keeping: { version: 1, digest: st.digest } });

    writeFileSync(file, good2);
    await eventually(() => mapping.status().version === 2, 'version 2');
    expect(mapping.status().lastError).to.equal(undefined);
    expect(mapping.map({ subject: 'alice' })?.groups).to.deep.equal(['admins']);
  });

  it('a valid-YAML but invalid edit (reserved prefix) is rejected the same way', async () => {
    writeFileSync(file, invalid);
    await eventually(() => mapping.status().lastError !== undefined, 'the validation error');
    expect(mapping.status().lastError).to.match(/reserved prefix/);
    expect(mapping.map({ subject: 'alice' })?.name).to.equal('user:alice');
  });

  it('an atomic rename-replacement is seen (directory watch)', async () => {
    const tmp = join(dir, '.mapping.yaml.tmp');
    writeFileSync(tmp, good2);
    renameSync(tmp, file);
    await eventually(() => mapping.status().version === 2, 'version 2');
    expect(mapping.map({ subject: 'alice' })?.groups).to.deep.equal(['admins']);
  });

  it('a deleted file keeps the last good mapping; restoring the same content recovers without a new version', async () => {
    unlinkSync(file);
    await eventually(() => mapping.status().lastError !== undefined, 'the read error');
    expect(mapping.status().lastError).to.match(/read failed: ENOENT/);
    expect(mapping.map({ subject: 'alice' })?.name).to.equal('user:alice');
    writeFileSync(file, good1);
    await eventually(() => mapping.status().lastError === undefined, 'recovery');
    expect(mapping.status().version).to.equal(1);
  });

  it('reload() with unchanged content is a no-op', async () => {
    expect(await mapping.reload()).to.equal(false);
    expect(mapping.status().version).to.equal(1);
  });

  it('close() is idempotent and later reloads fail with ERR_KDA_CLOSED; map keeps answering', async () => {
    await mapping.close();
    await mapping.close();
    const err = await mapping.reload().catch((e: unknown) => e);
    expect(err).to.be.instanceOf(KdaError);
    expect((err as KdaError).code).to.equal('ERR_KDA_CLOSED');
    expect(mapping.map({ subject: 'alice' })?.name).to.equal('user:alice');
  });
});

describe('mapping/IdentityMapping polling', () => {
  it('a file whose directory watch is silent (NFS): a bad edit keeps the last good copy, the next good edit applies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kda-mapping-poll-'));
    const file = join(dir, 'mapping.yaml');
    writeFileSync(file, good1);
    // The file source without its watch: only the shared primitive's periodic re-read can see the edits.
    const { watch: _silent, ...polled } = fileMappingSource(file);
    const logger = recordingLogger();
    const m = new IdentityMapping({ source: polled, pollIntervalMs: 20, logger });
    try {
      await m.start();
      expect(m.map({ subject: 'alice' })?.groups).to.deep.equal(['devs']);
      // Atomic rename-replacements, as editors and config tools write.
      writeFileSync(join(dir, '.tmp'), broken);
      renameSync(join(dir, '.tmp'), file);
      await eventually(() => m.status().lastError !== undefined, 'the bad edit is read');
      expect(m.status()).to.include({ loaded: true, version: 1 });
      expect(m.map({ subject: 'alice' })?.groups).to.deep.equal(['devs']);
      expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).to.deep.equal([
        'identity mapping update rejected; keeping the last known good mapping',
      ]);
      writeFileSync(join(dir, '.tmp'), good2);
      renameSync(join(dir, '.tmp'), file);
      await eventually(() => m.status().version === 2, 'the good edit applies');
      expect(m.status().lastError).to.equal(undefined);
      expect(m.map({ subject: 'alice' })?.groups).to.deep.equal(['admins']);
    } finally {
      await m.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('picks up edits by polling when the source has no watch', async () => {
    let text = good1;
    const source: MappingSource = { name: 'memory', read: async () => text };
    const m = new IdentityMapping({ source, pollIntervalMs: 20 });
    await m.start();
    after(() => m.close());
    text = broken;
    await eventually(() => m.status().lastError !== undefined, 'poll error');
    const errors = m.status().errorCount;
    text = good2;
    await eventually(() => m.status().version === 2, 'poll apply');
    expect(errors).to.be.greaterThan(0);
    expect(m.map({ subject: 'alice' })?.groups).to.deep.equal(['admins']);
  });

  it('logs a repeated identical error once', async () => {
    const logger = recordingLogger();
    let text = good1;
    const m = new IdentityMapping({ source: { name: 'memory', read: async () => text }, pollIntervalMs: 0, logger });
    await m.start();
    after(() => m.close());
    text = invalid;
    await m.reload();
    text = invalid + '\n# another broken edit, same problem\n';
    await m.reload();
    expect(logger.lines.filter((l) => l.level === 'error')).to.have.length(1);
    expect(m.status().errorCount).to.equal(2);
  });
});

describe('mapping/IdentityMapping start', () => {
  it('rejects when the first document is invalid (nothing good to keep)', async () => {
    const m = new IdentityMapping({ source: { name: 'memory', read: async () => invalid }, pollIntervalMs: 0 });
    after(() => m.close());
    const err = await m.start().catch((e: unknown) => e);
    expect(err).to.be.instanceOf(KdaError);
    expect(String((err as Error).message)).to.match(/memory: .*reserved prefix/);
    expect(m.status()).to.include({ loaded: false, version: 0 });
    expect(m.map({ subject: 'alice' })).to.equal(undefined);
  });

  it('the constructor validates options and does no I/O', () => {
    let reads = 0;
    const m = new IdentityMapping({ source: { name: 'x', read: async () => (reads++, good1) } });
    expect(reads).to.equal(0);
    void m.close();
    expect(() => new IdentityMapping({ source: { name: 'x', read: async () => '' }, pollIntervalMs: -1 })).to.throw(
      /pollIntervalMs/,
    );
  });
});

describe('mapping/configMapMappingSource', () => {
  it('follows ConfigMap watch events, keeps last good on deletion and on a missing key', async () => {
    let data: Record<string, string> | undefined = { 'mapping.yaml': good1 };
    const listeners = new Set<() => void>();
    const source = configMapMappingSource({
      configMap: 'kube-system/identity-mapping',
      key: 'mapping.yaml',
      fetch: async () => data,
      watch: (fn) => {
        listeners.add(fn);
        return () => listeners.delete(fn);
      },
    });
    const m = new IdentityMapping({ source, pollIntervalMs: 0, debounceMs: 0 });
    await m.start();
    after(() => m.close());
    const emit = () => listeners.forEach((fn) => fn());
    expect(m.status().source).to.equal('configmap:kube-system/identity-mapping#mapping.yaml');

    data = undefined;
    emit();
    await eventually(() => m.status().lastError !== undefined, 'deletion error');
    expect(m.status().lastError).to.match(/ConfigMap kube-system\/identity-mapping not found/);
    expect(m.map({ subject: 'alice' })?.groups).to.deep.equal(['devs']);

    data = { other: 'x' };
    emit();
    await eventually(() => /has no key/.test(m.status().lastError ?? ''), 'missing key error');

    data = { 'mapping.yaml': good2 };
    emit();
    await eventually(() => m.status().version === 2, 'update');
    expect(m.map({ subject: 'alice' })?.groups).to.deep.equal(['admins']);

    await m.close();
    expect(listeners.size).to.equal(0);
  });
});
