import { formatReport, runDoctor, type DoctorOptions } from 'kube-delegated-auth/doctor';
import { runFlagsCommand } from './command-line.js';
import { formatFlagUsages, type FlagSpec } from './flag-set.js';

const doctorFlags: readonly FlagSpec[] = [
  {
    name: 'kubeconfig',
    kind: 'string',
    help: 'kubeconfig of the identity to check with (default $KUBECONFIG, in-cluster, then ~/.kube/config)',
  },
  { name: 'group', kind: 'string', help: 'API group of the APIService to check (with --version)' },
  { name: 'version', kind: 'string', help: 'API version of the APIService to check (with --group)' },
  { name: 'output', short: 'o', kind: 'string', defaultText: 'text', help: 'text or json' },
  {
    name: 'configmap',
    kind: 'string',
    help: 'check this <namespace>/<name> copy of the extension-apiserver-authentication ConfigMap instead',
  },
  { name: 'help', short: 'h', kind: 'boolean', help: 'Show this help.' },
];

export const doctorUsage = `Usage: kube-delegated-auth doctor [--kubeconfig <path>] [--group <group> --version <version>] [--output text|json]
       [--configmap <namespace>/<name>]

Checks the cluster's aggregation and delegated-auth setup from this identity: the
kube-system/extension-apiserver-authentication ConfigMap and its keys, distinct client and requestheader CAs,
requestheader-allowed-names, CA expiry, RBAC for the ConfigMap, TokenReviews and SubjectAccessReviews, and (with
--group/--version) the APIService. --configmap checks an edited copy of the ConfigMap instead. Exit code 1 when a
check fails, 2 on a usage error, 0 otherwise. The report goes to stdout; doctor writes no log lines.

Flags:
${formatFlagUsages(doctorFlags)}
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
  return runFlagsCommand(
    {
      name: 'doctor',
      flags: doctorFlags,
      usage: doctorUsage,
      check: ({ value, problems }) => {
        const output = value<string>('output') ?? 'text';
        if (output !== 'text' && output !== 'json')
          problems.push({
            flag: '--output',
            cause: `must be text or json, got ${JSON.stringify(output)}`,
            fix: '--output=json',
          });
        const group = value<string>('group');
        const version = value<string>('version');
        if ((group === undefined) !== (version === undefined)) {
          const [given, missing] = group === undefined ? ['--version', '--group'] : ['--group', '--version'];
          problems.push({
            flag: missing,
            cause: `required with ${given}`,
            fix: 'give both, e.g. --group=sample.example.com --version=v1alpha1 (kubectl get apiservices)',
          });
        }
        let configMap: { namespace: string; name: string } | undefined;
        const configmapFlag = value<string>('configmap');
        if (configmapFlag !== undefined) {
          const m = /^([^/]+)\/([^/]+)$/.exec(configmapFlag);
          if (!m)
            problems.push({
              flag: '--configmap',
              cause: `must be <namespace>/<name>, got ${JSON.stringify(configmapFlag)}`,
              fix: '--configmap=kube-system/extension-apiserver-authentication-copy',
            });
          else configMap = { namespace: m[1]!, name: m[2]! };
        }
        return { output, group, version, configMap, kubeconfig: value<string>('kubeconfig') };
      },
      run: async ({ output, group, version, configMap, kubeconfig }) => {
        const report = await runDoctor({
          ...io.options,
          ...(kubeconfig !== undefined && { kubeconfig }),
          ...(group !== undefined && { group }),
          ...(version !== undefined && { version }),
          ...(configMap && { configMap }),
        });
        out(output === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
        return report.ok ? 0 : 1;
      },
    },
    argv,
    { usage: out, errorLine: (line) => err(line + '\n') },
  );
}
