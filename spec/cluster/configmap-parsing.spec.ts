import { expect } from 'chai';
import { deserializeStrings } from '../../lib/cluster/configmap-parsing.js';
import { KdaError } from '../../lib/errors.js';

describe('cluster/configmap-parsing deserializeStrings', () => {
  const cases: readonly {
    name: string;
    value: string | undefined;
    expect?: readonly string[];
    expectError?: RegExp;
  }[] = [
    { name: 'missing', value: undefined, expect: [] },
    { name: 'empty', value: '', expect: [] },
    { name: 'null', value: 'null', expect: [] },
    { name: 'empty array', value: '[]', expect: [] },
    { name: 'one', value: '["X-Remote-User"]', expect: ['X-Remote-User'] },
    { name: 'order kept, verbatim (no trimming)', value: '["b", " a ", "b"]', expect: ['b', ' a ', 'b'] },
    { name: 'invalid JSON', value: '["X-Remote-User"', expectError: /^invalid JSON in key "k": / },
    { name: 'bare string (not JSON)', value: 'X-Remote-User', expectError: /^invalid JSON in key "k"/ },
    {
      name: 'JSON string, not array',
      value: '"X-Remote-User"',
      expectError: /^key "k" must be a JSON array of strings, got "X-Remote-User"$/,
    },
    { name: 'object', value: '{"a":["b"]}', expectError: /must be a JSON array of strings/ },
    { name: 'array with a number', value: '["a", 1]', expectError: /must be a JSON array of strings/ },
    { name: 'array with null', value: '["a", null]', expectError: /must be a JSON array of strings/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.expectError) {
        expect(() => deserializeStrings(c.value, 'k'))
          .to.throw(KdaError, c.expectError)
          .with.property('code', 'ERR_KDA_TRUST_UNAVAILABLE');
      } else {
        expect(deserializeStrings(c.value, 'k')).to.deep.equal(c.expect);
      }
    });
  }
});
