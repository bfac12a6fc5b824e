import { parseArgs } from 'node:util';
import { formatReport, runDoctor, type DoctorOptions } from 'kube-delegated-auth/doctor';

export const doctorUsage = `Usage: kube-delegated-auth doctor [--kubeconfig <path>] [--group <group> --version <version>] [--output text|json]
       [--configmap <namespace>/<name>]

Checks the cluster's aggregation and delegated-auth setup from this identity: the
kube-system/extension-apiserver-authentication ConfigMap and its keys, distinct client and requestheader CAs,
requestheader-allowed-names, CA expiry, RBAC for the ConfigMap, TokenReviews and SubjectAccessReviews, and (with
--group/--version) the APIService. --configmap checks an edited copy of the ConfigMap instead. Exit code 1 when a check fails, 2 on a usage error, 0 otherwise.
`;

export interface DoctorCommandIo {
  /** Default `process.stdout.write`. */
  readonly stdout?: (s: string) => void;
  /** Default `process.stderr.write`. */
  readonly stderr?: (s: string) => void;
  /** Extra options (environment, clock) for embedding and tests. */
  readonly options?: Omit<DoctorOptions, 'kubeconfig' | 'group' | 'version' | 'configMap'>;
}

/** `kube-delegated-auth doctor …`: argv without the command name; resolves to the exit code. */
export async function runDoctorCommand(argv: readonly string[], io: DoctorCommandIo = {}): Promise<number> {
  const out = io.stdout ?? ((s: string) => void process.stdout.write(s));
  const err = io.stderr ?? ((s: string) => void process.stderr.write(s));
  let values: {
    kubeconfig?: string;
    group?: string;
    version?: string;
    output?: string;
    configmap?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        kubeconfig: { type: 'string' },
        group: { type: 'string' },
        version: { type: 'string' },
        output: { type: 'string', short: 'o', default: 'text' },
        configmap: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    err(`doctor: ${(e as Error).message}\n${doctorUsage}`);
    return 2;
  }
  if (values.help) {
    out(doctorUsage);
    return 0;
  }
  if (values.output !== 'text' && values.output !== 'json') {
    err(`doctor: --output must be text or json, got ${JSON.stringify(values.output)}\n`);
    return 2;
  }
  if ((values.group === undefined) !== (values.version === undefined)) {
    err('doctor: --group and --version go together\n');
    return 2;
  }
  let configMap: { namespace: string; name: string } | undefined;
  if (values.configmap !== undefined) {
    const m = /^([^/]+)\/([^/]+)$/.exec(values.configmap);
    if (!m) {
      err(`doctor: --configmap must be <namespace>/<name>, got ${JSON.stringify(values.configmap)}\n`);
      return 2;
    }
    configMap = { namespace: m[1]!, name: m[2]! };
  }
  const report = await runDoctor({
    ...io.options,
    ...(values.kubeconfig !== undefined && { kubeconfig: values.kubeconfig }),
    ...(values.group !== undefined && { group: values.group }),
    ...(values.version !== undefined && { version: values.version }),
    ...(configMap && { configMap }),
  });
  out(values.output === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
  return report.ok ? 0 : 1;
}
