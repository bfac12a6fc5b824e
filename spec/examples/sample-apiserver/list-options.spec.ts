import { expect } from 'chai';
import { matchesSelectors, parseListOptions } from '../../../examples/sample-apiserver/list-options.js';
import type { Widget } from '../../../examples/sample-apiserver/widget-store.js';

// Pure functions: the selector semantics (Go's labels.Requirement.Matches, fields.Selector) on hand-built widgets.
// The same code runs behind real TLS in widgets.spec.ts.

function widget(name: string, namespace: string, labels?: Record<string, string>): Widget {
  return {
    apiVersion: 'sample.kube-delegated-auth.io/v1alpha1',
    kind: 'Widget',
    metadata: {
      name,
      namespace,
      uid: 'u',
      resourceVersion: '1',
      creationTimestamp: 'x',
      ...(labels ? { labels } : {}),
    },
    spec: {},
  };
}

function matches(query: string, w: Widget): boolean {
  const parsed = parseListOptions(query);
  if (!parsed.ok) throw new Error(parsed.message);
  return matchesSelectors(w, parsed.options);
}

describe('sample list options', () => {
  const labelled = widget('a', 'ns', { app: 'web', size: '7', empty: '' });
  const bare = widget('b', 'ns');
  const cases: readonly { query: string; labelled: boolean; bare: boolean }[] = [
    { query: 'labelSelector=app%3Dweb', labelled: true, bare: false },
    { query: 'labelSelector=app!%3Dweb', labelled: false, bare: true },
    { query: 'labelSelector=app+notin+(db)', labelled: true, bare: true },
    { query: 'labelSelector=app+in+(db)', labelled: false, bare: false },
    { query: 'labelSelector=empty', labelled: true, bare: false },
    { query: 'labelSelector=empty%3D', labelled: true, bare: false },
    { query: 'labelSelector=!empty', labelled: false, bare: true },
    { query: 'labelSelector=size>6', labelled: true, bare: false },
    { query: 'labelSelector=size<7', labelled: false, bare: false },
    { query: 'labelSelector=app>1', labelled: false, bare: false },
    { query: 'fieldSelector=metadata.namespace%3Dns', labelled: true, bare: true },
    { query: 'fieldSelector=metadata.namespace!%3Dns', labelled: false, bare: false },
    { query: 'fieldSelector=metadata.name%3Da', labelled: true, bare: false },
    { query: 'fieldSelector=metadata.name!%3Da', labelled: false, bare: true },
    { query: '', labelled: true, bare: true },
  ];
  for (const c of cases) {
    it(`?${c.query || '(none)'}: labelled ${c.labelled}, unlabelled ${c.bare}`, () => {
      expect(matches(c.query, labelled)).to.equal(c.labelled);
      expect(matches(c.query, bare)).to.equal(c.bare);
    });
  }

  it('a label named like an Object.prototype property is not "present" on a widget without it', () => {
    expect(matches('labelSelector=constructor', bare)).to.equal(false);
    expect(matches('labelSelector=!toString', bare)).to.equal(true);
  });

  it('sendInitialEvents is refused as Go refuses it with the WatchList gate off (422 cause, Forbidden)', () => {
    const r = parseListOptions('watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan', 'watch');
    expect(r).to.deep.include({ ok: false });
    expect(r.ok ? undefined : r.invalid).to.deep.equal([
      {
        type: 'FieldValueForbidden',
        field: 'sendInitialEvents',
        message: 'Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled',
      },
    ]);
  });

  it('resourceVersion and timeoutSeconds are decoded; malformed ones refused', () => {
    const ok = parseListOptions('resourceVersion=42&timeoutSeconds=5');
    expect(ok.ok && ok.options).to.deep.include({ resourceVersion: 42, timeoutSeconds: 5 });
    expect(parseListOptions('resourceVersion=abc')).to.deep.equal({
      ok: false,
      message: 'invalid resource version: "abc"',
    });
    expect(parseListOptions('timeoutSeconds=1.5').ok).to.equal(false);
  });
});
