// Doctor checks: kube-system/extension-apiserver-authentication, key by key, with the kube-apiserver flag that
// writes each key; distinct client and requestheader CAs; requestheader-allowed-names; CA expiry.
import type { X509Certificate } from 'node:crypto';
import { configMapKeys, deserializeStrings } from '../cluster/configmap-parsing.js';
import { rolebindingFixCommand } from '../cluster/kubeconfig.js';
import type { RestClient } from '../cluster/rest-client.js';
import { KubeApiError } from '../cluster/rest-client.js';
import { parsePemBundle } from '../trust/pem.js';
import type { DoctorCheck } from './report.js';
import { apiServerFlagFix, cn, configMapName, day, describeError, sameCA } from './fixes.js';
import type { DoctorOptions } from './options.js';
interface ConfigMap {
  readonly data?: Readonly<Record<string, string>>;
}

/** What each key is, and the kube-apiserver flag that writes it. */
const keyFlags: readonly { key: string; flag: string; example: string; required: boolean }[] = [
  {
    key: configMapKeys.clientCA,
    flag: '--client-ca-file',
    example: '/etc/kubernetes/pki/ca.crt',
    required: true,
  },
  {
    key: configMapKeys.requestHeaderCA,
    flag: '--requestheader-client-ca-file',
    example: '/etc/kubernetes/pki/front-proxy-ca.crt',
    required: true,
  },
  {
    key: configMapKeys.usernameHeaders,
    flag: '--requestheader-username-headers',
    example: 'X-Remote-User',
    required: true,
  },
  {
    key: configMapKeys.groupHeaders,
    flag: '--requestheader-group-headers',
    example: 'X-Remote-Group',
    required: true,
  },
  {
    key: configMapKeys.extraHeaderPrefixes,
    flag: '--requestheader-extra-headers-prefix',
    example: 'X-Remote-Extra-',
    required: true,
  },
  {
    key: configMapKeys.allowedNames,
    flag: '--requestheader-allowed-names',
    example: 'front-proxy-client',
    required: false,
  },
];

export async function configMapChecks(
  client: RestClient,
  identity: string | undefined,
  opts: DoctorOptions,
  now: number,
  checks: DoctorCheck[],
): Promise<void> {
  const ns = opts.configMap?.namespace ?? 'kube-system';
  const cmName = opts.configMap?.name ?? configMapName;
  const where = `${ns}/${cmName}`;
  let data: Readonly<Record<string, string>>;
  try {
    const path = `/api/v1/namespaces/${encodeURIComponent(ns)}/configmaps/${encodeURIComponent(cmName)}`;
    data = (await client.get<ConfigMap>(path)).data ?? {};
    checks.push({ id: 'configmap', status: 'pass', message: `${where} exists` });
  } catch (err) {
    const status = err instanceof KubeApiError ? err.statusCode : undefined;
    checks.push({
      id: 'configmap',
      status: 'fail',
      message: status === 404 ? `${where} does not exist` : `cannot read ${where}: ${describeError(err)}`,
      fix:
        status === 403
          ? rolebindingFixCommand(identity)
          : status === 404
            ? apiServerFlagFix('--requestheader-client-ca-file', '/etc/kubernetes/pki/front-proxy-ca.crt')
            : `kubectl get configmap -n ${ns} ${cmName} -o yaml`,
    });
    return;
  }

  for (const k of keyFlags) {
    const value = data[k.key];
    const id = `configmap.key.${k.key}`;
    if (value === undefined || value === '') {
      checks.push({
        id,
        status: k.required ? 'fail' : 'warn',
        message: `key ${k.key} is missing`,
        fix: apiServerFlagFix(k.flag, k.example),
      });
      continue;
    }
    if (k.key === configMapKeys.clientCA || k.key === configMapKeys.requestHeaderCA) {
      checks.push({ id, status: 'pass', message: `key ${k.key} is present` });
      continue;
    }
    try {
      const list = deserializeStrings(value, k.key);
      if (list.length === 0 && k.key === configMapKeys.allowedNames) {
        checks.push({
          id,
          status: 'warn',
          message: 'requestheader-allowed-names is empty: any certificate from the front-proxy CA may assert users',
          fix: apiServerFlagFix(k.flag, k.example),
        });
      } else if (list.length === 0 && k.required) {
        checks.push({
          id,
          status: 'fail',
          message: `key ${k.key} is an empty list`,
          fix: apiServerFlagFix(k.flag, k.example),
        });
      } else checks.push({ id, status: 'pass', message: `${k.key}: ${list.join(', ')}` });
    } catch (err) {
      checks.push({ id, status: 'fail', message: describeError(err), fix: apiServerFlagFix(k.flag, k.example) });
    }
  }

  const bundles: { key: string; certs: readonly X509Certificate[] }[] = [];
  for (const key of [configMapKeys.clientCA, configMapKeys.requestHeaderCA]) {
    const pem = data[key];
    if (!pem) continue;
    try {
      const certs = parsePemBundle(pem, key).certificates;
      bundles.push({ key, certs });
    } catch (err) {
      checks.push({
        id: `ca.parse.${key}`,
        status: 'fail',
        message: `key ${key} holds no valid PEM certificate: ${describeError(err)}`,
        fix: `openssl x509 -noout -subject -in <the file passed to kube-apiserver for ${key}>`,
      });
    }
  }

  const client_ = bundles.find((b) => b.key === configMapKeys.clientCA);
  const proxy = bundles.find((b) => b.key === configMapKeys.requestHeaderCA);
  if (client_ && proxy) {
    const shared = proxy.certs.filter((p) => client_.certs.some((c) => sameCA(c, p)));
    checks.push(
      shared.length === 0
        ? { id: 'ca.distinct', status: 'pass', message: 'requestheader CA and client CA are different CAs' }
        : {
            id: 'ca.distinct',
            status: 'fail',
            message: `requestheader CA and client CA share ${shared.map((c) => `"${cn(c)}"`).join(', ')}: every client certificate of the cluster CA could assert any user through X-Remote-User`,
            fix: 'kubeadm init phase certs front-proxy-ca && kubeadm init phase certs front-proxy-client   # then kube-apiserver --requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt --proxy-client-cert-file=/etc/kubernetes/pki/front-proxy-client.crt --proxy-client-key-file=/etc/kubernetes/pki/front-proxy-client.key',
          },
    );
  }

  const warnMs = (opts.expiryWarningDays ?? 30) * day;
  for (const b of bundles) {
    const renew =
      b.key === configMapKeys.requestHeaderCA
        ? 'kubeadm init phase certs front-proxy-ca   # after moving the old front-proxy-ca.* away; then restart kube-apiserver'
        : 'kubeadm init phase certs ca   # after moving the old ca.* away; re-issue the certificates it signed (kubeadm certs renew all)';
    for (const c of b.certs) {
      const notAfter = Date.parse(c.validTo);
      const notBefore = Date.parse(c.validFrom);
      const id = `ca.expiry.${b.key}`;
      const name = `"${cn(c)}" in ${b.key}`;
      const days = Math.floor((notAfter - now) / day);
      if (notAfter <= now) {
        checks.push({ id, status: 'fail', message: `${name} expired on ${c.validTo}`, fix: renew });
      } else if (notBefore > now) {
        checks.push({
          id,
          status: 'fail',
          message: `${name} is not valid before ${c.validFrom}`,
          fix: 'check the clock of this host and of kube-apiserver (timedatectl)',
        });
      } else if (notAfter - now < warnMs) {
        checks.push({ id, status: 'warn', message: `${name} expires in ${days} days (${c.validTo})`, fix: renew });
      } else checks.push({ id, status: 'pass', message: `${name} valid for ${days} more days` });
    }
  }
}
