import { expect } from 'chai';
import {
  humanDuration,
  negotiateRead,
  parseIncludeObject,
  widgetTable,
} from '../../../examples/sample-apiserver/table.js';
import type { Widget } from '../../../examples/sample-apiserver/widget-store.js';

// Content negotiation and the Table body; widgets.spec.ts runs them behind the real TLS stack and the e2e spec
// through the aggregator with kubectl.

describe('sample Table output', () => {
  describe('humanDuration (Go duration.HumanDuration)', () => {
    const s = 1000;
    const m = 60 * s;
    const h = 60 * m;
    const d = 24 * h;
    // Each threshold of Go's HumanDuration, on both sides.
    const cases: readonly [number, string][] = [
      [-2 * s, '<invalid>'],
      [-1 * s, '0s'],
      [0, '0s'],
      [1 * s, '1s'],
      [119 * s, '119s'],
      [2 * m, '2m'],
      [2 * m + 30 * s, '2m30s'],
      [9 * m + 59 * s, '9m59s'],
      [10 * m, '10m'],
      [179 * m, '179m'],
      [3 * h, '3h'],
      [7 * h + 59 * m, '7h59m'],
      [8 * h, '8h'],
      [47 * h + 59 * m, '47h'],
      [48 * h, '2d'],
      [4 * d + 3 * h, '4d3h'],
      [8 * d, '8d'],
      [729 * d, '729d'],
      [2 * 365 * d, '2y'],
      [2 * 365 * d + 10 * d, '2y10d'],
      [8 * 365 * d, '8y'],
    ];
    for (const [ms, want] of cases) it(`${ms} ms → ${want}`, () => expect(humanDuration(ms)).to.equal(want));
  });

  describe('negotiateRead', () => {
    const cases: readonly [string | undefined, string][] = [
      [undefined, 'json'],
      ['', 'json'],
      ['*/*', 'json'],
      ['application/json', 'json'],
      ['application/json;as=Table;v=v1;g=meta.k8s.io,application/json', 'table meta.k8s.io/v1'],
      ['application/json;as=Table;v=v1beta1;g=meta.k8s.io', 'table meta.k8s.io/v1beta1'],
      ['application/json;as=Table;v=v1;g=meta.k8s.io;q=0.5,application/json', 'json'],
      ['application/json;as=Table;v=v2;g=meta.k8s.io,application/json', 'json'],
      ['application/json;as=Table;v=v1;g=example.com', 'none'],
      ['application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json', 'json'],
      ['application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io', 'none'],
      ['application/yaml', 'none'],
      ['application/json;q=0', 'none'],
    ];
    for (const [accept, want] of cases) {
      it(`${JSON.stringify(accept)} → ${want}`, () => {
        const f = negotiateRead(accept);
        expect(f.kind === 'table' ? `table ${f.apiVersion}` : f.kind).to.equal(want);
      });
    }
  });

  it('includeObject: Metadata by default; None, Object; anything else is a FieldError', () => {
    expect(parseIncludeObject(undefined)).to.equal('Metadata');
    expect(parseIncludeObject(['None'])).to.equal('None');
    expect(parseIncludeObject(['Object'])).to.equal('Object');
    expect(parseIncludeObject(['object'])).to.deep.include({ type: 'FieldValueNotSupported', field: 'includeObject' });
  });

  it('a row per widget: name, color, size, age; non-string color and non-number size are null', () => {
    const w = (name: string, spec: Record<string, unknown>): Widget => ({
      apiVersion: 'sample.kube-delegated-auth.io/v1alpha1',
      kind: 'Widget',
      metadata: { name, namespace: 'ns', uid: 'u', creationTimestamp: '2026-01-01T00:00:00Z' },
      spec,
    });
    const t = widgetTable([w('a', { color: 'red', size: 3 }), w('b', { color: ['x'], size: '3' })], {
      apiVersion: 'meta.k8s.io/v1',
      includeObject: 'None',
      resourceVersion: '7',
      nowMs: Date.parse('2026-01-01T00:05:00Z'),
    }) as { rows: { cells: unknown[] }[]; metadata: unknown };
    expect(t.metadata).to.deep.equal({ resourceVersion: '7' });
    expect(t.rows.map((r) => r.cells)).to.deep.equal([
      ['a', 'red', 3, '5m'],
      ['b', null, null, '5m'],
    ]);
  });
});
