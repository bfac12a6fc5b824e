// ConfigMap parsing: the JSON string lists and PEM bundles of kube-system/extension-apiserver-authentication, alone
// and through ExtensionApiserverAuthentication re-reading a fake apiserver (in-process fake, real HTTPS) whose
// ConfigMap is replaced by random valid/invalid/missing values between reads. A model tracks last-known-good.
import { expect } from 'chai';
import fc from 'fast-check';
import { configMapKeys, deserializeStrings } from '../../lib/cluster/configmap-parsing.js';
import { ExtensionApiserverAuthentication } from '../../lib/cluster/extension-apiserver-authentication.js';
import { RestClient } from '../../lib/cluster/rest-client.js';
import { KdaError } from '../../lib/errors.js';
import type { RequestHeaderConfig } from '../../lib/trust/interfaces.js';
import { parsePemBundle } from '../../lib/trust/pem.js';
import { sendJson, startFakeApiserver, type FakeApiserver } from '../cluster/fake-apiserver.js';
import { testPki } from '../support/pki.js';
import { fuzzParams, fuzzTimeout } from './runs.js';

const pki = testPki();

function mutatePem(pem: string, at: number, ch: string): string {
  const i = at % pem.length;
  return pem.slice(0, i) + ch + pem.slice(i + 1);
}

const pemValue = fc.oneof(
  fc.constantFrom(
    pki.frontProxyCA.certPem,
    pki.otherCA.certPem,
    pki.frontProxyCA.certPem + pki.otherCA.certPem,
    `\n\n${pki.clientCA.certPem}\n`,
    '',
    '   \n',
    'not a pem',
    '-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n',
    '-----BEGIN CERTIFICATE-----\nMIIB\n-----END PRIVATE KEY-----\n',
    pki.frontProxyCA.keyPem,
  ),
  fc
    .tuple(fc.nat(), fc.constantFrom('A', '-', '\n', '*', '='))
    .map(([at, ch]) => mutatePem(pki.otherCA.certPem, at, ch)),
  fc.nat(2000).map((n) => pki.otherCA.certPem.slice(0, n)),
  fc.string({ maxLength: 40 }),
);

const listValue = fc.oneof(
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }).map((a) => JSON.stringify(a)),
  fc.constantFrom('null', '', '[]', '["X-Remote-User"]', '[1]', '{}', '"x"', '[', '["a",null]', 'true', ' ["a"] '),
  fc.string({ maxLength: 12 }),
);

/** Model of deserializeStrings: undefined = error. */
function listModel(v: string | undefined): readonly string[] | undefined {
  if (v === undefined || v === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    return undefined;
  }
  if (parsed === null) return [];
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) return undefined;
  return parsed as string[];
}

function pemModel(v: string | undefined): string | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  try {
    return parsePemBundle(v).pem;
  } catch {
    return undefined;
  }
}

describe('fuzz: ConfigMap parsing (fast-check)', () => {
  it('deserializeStrings: a frozen string list or a KdaError naming the key, matching the Go model', () => {
    fc.assert(
      fc.property(fc.option(listValue, { nil: undefined }), (v) => {
        const want = listModel(v);
        let got: readonly string[] | undefined;
        let error: unknown;
        try {
          got = deserializeStrings(v, 'requestheader-allowed-names');
        } catch (err) {
          error = err;
        }
        if (want === undefined) {
          expect(error).to.be.instanceOf(KdaError);
          expect((error as KdaError).message).to.include('requestheader-allowed-names');
        } else {
          expect(error).to.equal(undefined);
          expect(got).to.deep.equal(want);
          if (want.length > 0) expect(Object.isFrozen(got)).to.equal(true);
        }
      }),
      fuzzParams(2000),
    );
  });

  it('parsePemBundle: a bundle of X509 certificates or a KdaError, never another exception', () => {
    fc.assert(
      fc.property(pemValue, (v) => {
        try {
          const b = parsePemBundle(v, 'fuzz');
          expect(b.certificates.length).to.be.greaterThan(0);
          expect(parsePemBundle(b.pem, 'fuzz').pem, 'normalised PEM is a fixed point').to.equal(b.pem);
        } catch (err) {
          expect(err).to.be.instanceOf(KdaError);
          expect((err as KdaError).code).to.equal('ERR_KDA_TRUST_UNAVAILABLE');
        }
      }),
      fuzzParams(1000),
    );
  });

  for (const failClosed of [false, true]) {
    describe(`ExtensionApiserverAuthentication re-reads (in-process fake apiserver), failClosedOnTrustError=${failClosed}`, () => {
      let fake: FakeApiserver;
      let client: RestClient;
      let data: Record<string, string> | undefined;
      const validData = (): Record<string, string> => ({
        [configMapKeys.clientCA]: pki.clientCA.certPem,
        [configMapKeys.requestHeaderCA]: pki.frontProxyCA.certPem,
        [configMapKeys.usernameHeaders]: '["X-Remote-User"]',
        [configMapKeys.groupHeaders]: '["X-Remote-Group"]',
        [configMapKeys.extraHeaderPrefixes]: '["X-Remote-Extra-"]',
        [configMapKeys.allowedNames]: '["front-proxy-client"]',
      });

      before(async () => {
        fake = await startFakeApiserver((_req, res) => {
          const items = data === undefined ? [] : [{ metadata: { name: 'extension-apiserver-authentication' }, data }];
          sendJson(res, 200, { kind: 'ConfigMapList', apiVersion: 'v1', metadata: { resourceVersion: '7' }, items });
        });
        client = new RestClient({ connection: fake.connection(), qps: 0 });
      });
      after(async () => {
        await client?.close();
        await fake?.close();
      });

      const keyValue = (arb: fc.Arbitrary<string>) => fc.option(arb, { nil: undefined, freq: 4 });
      const change = fc.record({
        deleted: fc.nat(9).map((n) => n < 2),
        clientCA: keyValue(pemValue),
        requestHeaderCA: keyValue(pemValue),
        usernameHeaders: keyValue(listValue),
        uidHeaders: keyValue(listValue),
        groupHeaders: keyValue(listValue),
        extraHeaderPrefixes: keyValue(listValue),
        allowedNames: keyValue(listValue),
      });

      it("never rejects except Go's startup error; last-known-good kept (or dropped when failing closed); errors in status()", async function () {
        this.timeout(fuzzTimeout(100, 150));
        await fc.assert(
          fc.asyncProperty(fc.array(change, { minLength: 1, maxLength: 4 }), async (changes) => {
            data = validData();
            const src = new ExtensionApiserverAuthentication({ client, failClosedOnTrustError: failClosed });
            try {
              await src.runOnce();
              let goodClient: string | undefined = pemModel(data[configMapKeys.clientCA]);
              let goodProxy: string | undefined = pemModel(data[configMapKeys.requestHeaderCA]);
              let goodCfg: RequestHeaderConfig | undefined = src.requestHeaderConfig.current();
              expect(goodClient).to.not.equal(undefined);
              expect(goodCfg).to.not.equal(undefined);
              for (const c of changes) {
                if (c.deleted) {
                  data = undefined;
                } else {
                  data = {};
                  for (const k of Object.keys(configMapKeys) as (keyof typeof configMapKeys)[]) {
                    const v = c[k];
                    if (v !== undefined) data[configMapKeys[k]] = v;
                  }
                }
                const d = data ?? {};
                const clientPem = data ? pemModel(d[configMapKeys.clientCA]) : undefined;
                const proxyPem = data ? pemModel(d[configMapKeys.requestHeaderCA]) : undefined;
                const headerKeys = [
                  configMapKeys.usernameHeaders,
                  configMapKeys.uidHeaders,
                  configMapKeys.groupHeaders,
                  configMapKeys.extraHeaderPrefixes,
                  configMapKeys.allowedNames,
                ];
                const lists = headerKeys.map((k) => listModel(d[k]));
                const noHeaderKeys = !headerKeys.some((k) => d[k] !== undefined) && !d[configMapKeys.requestHeaderCA];
                const cfgOk = data !== undefined && !noHeaderKeys && lists.every((l) => l !== undefined);
                const cfg: RequestHeaderConfig | undefined = cfgOk
                  ? {
                      usernameHeaders: lists[0]!,
                      uidHeaders: lists[1]!,
                      groupHeaders: lists[2]!,
                      extraHeaderPrefixes: lists[3]!,
                      allowedNames: lists[4]!,
                    }
                  : undefined;

                let rejected: unknown;
                try {
                  await src.runOnce();
                } catch (err) {
                  rejected = err;
                }

                if (clientPem) goodClient = clientPem;
                else if (failClosed) goodClient = undefined;
                if (proxyPem) goodProxy = proxyPem;
                else if (failClosed) goodProxy = undefined;
                if (cfg) goodCfg = cfg;
                else if (failClosed) goodCfg = undefined;

                // Go's startup rule: an undecodable header list with nothing loaded fails runOnce (only possible
                // when failing closed: otherwise the last-known-good list stays loaded).
                expect(rejected === undefined ? undefined : (rejected as KdaError).code).to.equal(
                  goodCfg === undefined ? 'ERR_KDA_TRUST_UNAVAILABLE' : undefined,
                );
                expect(src.clientCA.current()?.pem).to.equal(goodClient);
                expect(src.requestHeaderCA.current()?.pem).to.equal(goodProxy);
                const curCfg = src.requestHeaderConfig.current();
                expect(curCfg === undefined ? undefined : { ...curCfg }).to.deep.equal(
                  goodCfg === undefined ? undefined : { ...goodCfg },
                );
                const [sClient, sProxy, sCfg] = src.status();
                expect(sClient!.lastError !== undefined, `client CA error: ${sClient!.lastError}`).to.equal(!clientPem);
                expect(sProxy!.lastError !== undefined, `proxy CA error: ${sProxy!.lastError}`).to.equal(!proxyPem);
                expect(sCfg!.lastError !== undefined, `config error: ${sCfg!.lastError}`).to.equal(!cfg);
                expect(sClient!.loaded).to.equal(goodClient !== undefined);
              }
            } finally {
              await src.close();
            }
          }),
          fuzzParams(100),
        );
      });
    });
  }
});
