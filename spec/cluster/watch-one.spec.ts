import type { ServerResponse } from 'node:http';
import { expect } from 'chai';
import { RestClient } from '../../lib/cluster/rest-client.js';
import { WatchOne, type WatchOneOptions } from '../../lib/cluster/watch-one.js';
import type { Logger } from '../../lib/log.js';
import { waitFor } from '../support/wait-for.js';
import { sendJson, startFakeApiserver, status, type FakeApiserver, type RecordedRequest } from './fake-apiserver.js';

// The loop is generic: these tests watch a Secret-like object in another namespace, not the trust ConfigMap.
const path = '/api/v1/namespaces/wardle/secrets';
const name = 'serving-cert';

interface Obj {
  readonly metadata?: { readonly name?: string; readonly resourceVersion?: string };
  readonly data?: Readonly<Record<string, string>>;
}

/**
 * Waits for `cond`. A poll (10 ms) with a deadline: the conditions span the fake apiserver's request log, the loop's
 * providers and its status(), which share no event to wake on.
 */
async function until(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  await waitFor(cond, { what, timeoutMs, intervalMs: 10 });
}

/** List + watch endpoints of one named object (in-process fake: the test drives events, cuts and errors). */
class ObjectFake {
  data: Record<string, string> | undefined = { v: '1' };
  rv = 10;
  watchers: ServerResponse[] = [];
  lists = 0;
  watches: URLSearchParams[] = [];
  listError: ((res: ServerResponse) => void) | undefined;
  watchError: ((res: ServerResponse) => void) | undefined;

  handler = (req: RecordedRequest, res: ServerResponse): void => {
    if (req.path !== path || req.query.get('fieldSelector') !== `metadata.name=${name}`) {
      sendJson(res, 404, status(404, 'NotFound', 'unexpected request'));
      return;
    }
    if (req.query.get('watch') === 'true') {
      this.watches.push(req.query);
      if (this.watchError) return this.watchError(res);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      this.watchers.push(res);
      res.on('close', () => (this.watchers = this.watchers.filter((w) => w !== res)));
      return;
    }
    this.lists++;
    if (this.listError) return this.listError(res);
    sendJson(res, 200, {
      metadata: { resourceVersion: String(this.rv) },
      items: this.data ? [this.object(), { metadata: { name: 'someone-else', resourceVersion: '1' } }] : [],
    });
  };

  object(): Obj {
    return { metadata: { name, resourceVersion: String(this.rv) }, ...(this.data && { data: this.data }) };
  }

  send(ev: object): void {
    for (const w of this.watchers) w.write(JSON.stringify(ev) + '\n');
  }
}

describe('cluster/watch-one', () => {
  let fake: FakeApiserver;
  let obj: ObjectFake;
  let client: RestClient;
  let seen: (Obj | undefined)[];
  let warnings: string[];
  const loops: WatchOne<Obj>[] = [];

  before(async () => {
    fake = await startFakeApiserver();
  });
  after(() => fake.close());
  beforeEach(() => {
    obj = new ObjectFake();
    fake.handle(obj.handler);
    seen = [];
    warnings = [];
    client = new RestClient({ connection: fake.connection({ token: () => 't' }) });
  });
  afterEach(async () => {
    await Promise.all(loops.splice(0).map((l) => l.close()));
    await client.destroy();
  });

  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (_f, msg) => void warnings.push(msg),
    error: (_f, msg) => void warnings.push(msg),
  };

  const loop = (opts: Partial<WatchOneOptions<Obj>> = {}): WatchOne<Obj> => {
    const l = new WatchOne<Obj>({
      client,
      path,
      name,
      kind: 'secret',
      logger,
      retryDelay: 20,
      maxRetryDelay: 50,
      onObject: (o) => seen.push(o),
      ...opts,
    });
    loops.push(l);
    return l;
  };

  it('list() reports only the named object, and undefined when the list does not hold it', async () => {
    const l = loop();
    await l.list();
    expect(seen.map((o) => o?.data)).to.deep.equal([{ v: '1' }]);
    obj.data = undefined;
    await l.list();
    expect(seen[1]).to.equal(undefined);
  });

  it('a failed list calls onListError and rejects; a later success calls onListSuccess', async () => {
    const errors: unknown[] = [];
    let successes = 0;
    const l = loop({ onListError: (e) => errors.push(e), onListSuccess: () => successes++ });
    obj.listError = (res) => sendJson(res, 403, status(403, 'Forbidden', 'secrets "serving-cert" is forbidden'));
    const err = await l.list().catch((e: unknown) => e);
    expect((err as Error).message).to.match(/forbidden/);
    expect([errors.length, successes]).to.deep.equal([1, 0]);
    obj.listError = undefined;
    await l.list();
    expect(successes).to.equal(1);
  });

  it('watches from the listed resourceVersion with bookmarks, applies ADDED/MODIFIED/DELETED', async () => {
    const l = loop();
    await l.list();
    l.start();
    await until(() => obj.watchers.length === 1, 'the watch');
    const q = obj.watches[0]!;
    expect([q.get('resourceVersion'), q.get('allowWatchBookmarks'), q.get('timeoutSeconds')]).to.deep.equal([
      '10',
      'true',
      '300',
    ]);
    obj.data = { v: '2' };
    obj.rv++;
    obj.send({ type: 'MODIFIED', object: obj.object() });
    obj.send({ type: 'DELETED', object: obj.object() });
    await until(() => seen.length === 3, 'two events');
    expect(seen[1]?.data).to.deep.equal({ v: '2' });
    expect(seen[2]).to.equal(undefined);
  });

  it('start() without list() lists first; ERROR 410 relists and resumes from the new resourceVersion', async () => {
    const l = loop();
    l.start();
    await until(() => obj.watchers.length === 1, 'the watch');
    expect(obj.lists).to.equal(1);
    obj.rv = 99;
    obj.send({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' } });
    await until(() => obj.watches.length === 2, 'the second watch');
    expect(obj.lists).to.equal(2);
    expect(obj.watches[1]!.get('resourceVersion')).to.equal('99');
    expect(warnings, 'a 410 is routine, not a warning').to.deep.equal([]);
  });

  it('a watch refused with 500 is retried with a logged backoff; garbage on the stream restarts the watch', async () => {
    const l = loop();
    await l.list();
    obj.watchError = (res) => sendJson(res, 500, status(500, 'InternalError', 'etcd unavailable'));
    l.start();
    await until(() => obj.watches.length >= 2, 'a retried watch');
    expect(warnings).to.include('secret watch failed; retrying');
    obj.watchError = undefined;
    const before = obj.watches.length;
    await until(() => obj.watchers.length === 1, 'a healthy watch');
    for (const w of obj.watchers) w.write('not json\n');
    await until(() => obj.watches.length > before + 1, 'the watch to restart after garbage');
    expect(obj.lists, 'no relist for a failed or garbled watch').to.equal(1);
  });

  it('the periodic re-read reports the object besides the watch', async () => {
    const l = loop({ pollInterval: 30 });
    await l.list();
    l.start();
    obj.data = { v: 'polled' };
    await until(() => seen.some((o) => o?.data?.['v'] === 'polled'), 'the re-read');
    expect(obj.lists).to.be.greaterThan(1);
  });

  it('close() ends the watch and the polling, and is idempotent', async () => {
    const l = loop({ pollInterval: 20 });
    await l.list();
    l.start();
    await until(() => obj.watchers.length === 1, 'the watch');
    await l.close();
    await l.close();
    expect(l.closed).to.equal(true);
    await until(() => obj.watchers.length === 0, 'the watch to close');
    l.start();
    expect(obj.watchers.length, 'start() after close() does nothing').to.equal(0);
  });
});
