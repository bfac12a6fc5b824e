import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import { KdaError } from '../../lib/errors.js';
import { FileContent, watchFiles } from '../../lib/trust/file-content.js';
import { waitFor } from '../support/wait-for.js';

/** Waits for `cond`, re-checked on every notification of `source` (a provider's listeners, or a watch callback). */
async function eventually(
  cond: () => boolean,
  what: string,
  source: { addListener(listener: () => void): () => void },
): Promise<void> {
  await waitFor(cond, { what, timeoutMs: 5000, wakeOn: (wake) => source.addListener(wake) });
}

/** A `watchFiles` callback that counts its calls and can be listened to. */
function countingCallback(): { readonly onChange: () => void; calls: number; addListener(l: () => void): () => void } {
  const emitter = new EventEmitter();
  const counter = {
    calls: 0,
    onChange: () => {
      counter.calls++;
      emitter.emit('change');
    },
    addListener: (l: () => void) => {
      emitter.on('change', l);
      return () => void emitter.off('change', l);
    },
  };
  return counter;
}

describe('trust/file-content', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kda-file-content-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Parses `a=<text>` files; throws on anything else, like a PEM parser on garbage. */
  const content = (paths: string[], pollInterval = 0) =>
    new FileContent<string>({
      name: 'test::files',
      what: 'test content',
      paths,
      pollInterval,
      parse: (bytes) =>
        bytes
          .map((b) => {
            const text = b.toString('utf8');
            if (!text.startsWith('a=')) throw new Error(`not a test file: ${text.slice(0, 10)}`);
            return text.slice(2);
          })
          .join('+'),
    });

  describe('FileContent', () => {
    it('does no I/O in the constructor; runOnce() rejects with the read error while nothing good was loaded', async () => {
      const c = content([join(dir, 'missing')]);
      expect(c.current()).to.equal(undefined);
      let err: unknown;
      await c.runOnce().catch((e: unknown) => (err = e));
      expect(err).to.have.property('code', 'ENOENT');
      await c.close();
    });

    it('reads all files together; a bad edit keeps the last good value and shows in health until fixed', async () => {
      writeFileSync(join(dir, 'x'), 'a=1');
      writeFileSync(join(dir, 'y'), 'a=2');
      const c = content([join(dir, 'x'), join(dir, 'y')]);
      let notified = 0;
      c.addListener(() => notified++);
      await c.runOnce();
      expect([c.current(), notified, c.health.lastError]).to.deep.equal(['1+2', 1, undefined]);

      writeFileSync(join(dir, 'y'), 'garbage');
      await c.runOnce(); // a failed reload with a good value loaded resolves and keeps it
      expect([c.current(), notified]).to.deep.equal(['1+2', 1]);
      expect(c.health.lastError).to.match(/not a test file/);

      writeFileSync(join(dir, 'y'), 'a=3');
      await c.runOnce();
      expect([c.current(), notified, c.health.lastError]).to.deep.equal(['1+3', 2, undefined]);
      await c.runOnce(); // unchanged bytes: no notification
      expect(notified).to.equal(2);
      await c.close();
    });

    it('concurrent reads coalesce and none is lost; after close() runOnce() fails with ERR_KDA_CLOSED', async () => {
      writeFileSync(join(dir, 'x'), 'a=1');
      const c = content([join(dir, 'x')]);
      const first = c.runOnce();
      writeFileSync(join(dir, 'x'), 'a=2'); // lands while the first read may be in flight
      await Promise.all([first, c.runOnce()]);
      expect(c.current()).to.equal('2');
      await Promise.all([c.close(), c.close()]);
      const err = await c.runOnce().catch((e: unknown) => e);
      expect(err).to.be.instanceOf(KdaError).with.property('code', 'ERR_KDA_CLOSED');
    });

    it('start() follows an atomic rename-replacement through the directory watch (no polling)', async () => {
      const file = join(dir, 'x');
      writeFileSync(file, 'a=1');
      const c = content([file], 0);
      await c.runOnce();
      c.start();
      for (const v of ['2', '3']) {
        writeFileSync(join(dir, 'x.tmp'), `a=${v}`);
        renameSync(join(dir, 'x.tmp'), file);
        await eventually(() => c.current() === v, `rename-replacement ${v} seen`, c);
      }
      await c.close();
    });

    it('start() follows a ConfigMap-volume `..data` symlink swap (no polling)', async () => {
      mkdirSync(join(dir, '..2026_1'));
      writeFileSync(join(dir, '..2026_1', 'ca.crt'), 'a=old');
      symlinkSync('..2026_1', join(dir, '..data'));
      symlinkSync(join('..data', 'ca.crt'), join(dir, 'ca.crt'));
      const c = content([join(dir, 'ca.crt')], 0);
      await c.runOnce();
      c.start();
      mkdirSync(join(dir, '..2026_2'));
      writeFileSync(join(dir, '..2026_2', 'ca.crt'), 'a=new');
      symlinkSync('..2026_2', join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      await eventually(() => c.current() === 'new', 'the swapped content', c);
      await c.close();
    });
  });

  describe('watchFiles', () => {
    it('the periodic re-read reports even where no watch event comes (a directory that does not exist yet)', async () => {
      const changes = countingCallback();
      const stop = watchFiles([join(dir, 'later', 'x')], changes.onChange, { pollInterval: 10 });
      await eventually(() => changes.calls >= 2, 'periodic calls', changes);
      stop();
    });

    it('reports an in-place write in a watched directory', async () => {
      const changes = countingCallback();
      const stop = watchFiles([join(dir, 'x')], changes.onChange, { pollInterval: 0, debounce: 1 });
      writeFileSync(join(dir, 'x'), 'a=1');
      await eventually(() => changes.calls >= 1, 'a watch event', changes);
      stop();
    });
  });
});
