import { join, resolve } from 'node:path';
import { devPkiFiles, devPkiUsers, writeDevPki } from 'kube-delegated-auth/dev-pki';
import type { CertsOptions } from './flags.js';

/** `kube-delegated-auth certs`: writes the development PKI and says what each file is for. Returns the exit code. */
export function runCerts(opts: CertsOptions, out: (line: string) => void, cwd = process.cwd()): number {
  const dir = resolve(cwd, opts.dir);
  const written = writeDevPki(dir, {
    overwrite: opts.overwrite,
    dnsNames: opts.dnsNames,
    ipAddresses: opts.ipAddresses,
  });
  if (written.length === 0) {
    out(`a development PKI already exists in ${dir} (use --overwrite to replace it)`);
    return 0;
  }
  out(`wrote a development PKI to ${dir}:`);
  const f = (name: string) => join(dir, name);
  out(`  ${f(devPkiFiles.frontProxyCa)}        front-proxy CA (--requestheader-client-ca-file)`);
  out(`  ${f(devPkiFiles.frontProxyClient)}    front-proxy client certificate, CN=front-proxy-client`);
  out(`  ${f(devPkiFiles.clientCa)}            client CA (--client-ca-file)`);
  for (const u of devPkiUsers) {
    const groups = u.groups.length > 0 ? `, O=${u.groups.join(',')}` : '';
    out(`  ${f(`${u.file}.crt`)}  user certificate, CN=${u.name}${groups}`);
  }
  out(`  ${f(devPkiFiles.servingCa)}           serving CA (curl --cacert; APIService caBundle)`);
  out(`  ${f(devPkiFiles.serving)}              serving certificate (--tls-cert-file)`);
  return 0;
}
