// The operator installed as users install it: `helm install` of charts/peernet-operator, then
// `helm uninstall`. Used by the e2e stack, the chart test and the e2e benchmark; no jest here.
import { fileURLToPath } from 'node:url';
import type { Cluster } from '../../cluster/index.js';

/** The chart's folder (this module runs from `dist/test/helpers/`). */
export const chartDir = fileURLToPath(new URL('../../../charts/peernet-operator', import.meta.url));

export interface ChartInstall {
  release: string;
  namespace: string;
  /** `--set` arguments, each `path=value`. */
  set?: string[];
  /** `--set-string` arguments (values that must stay strings, e.g. node labels). */
  setString?: string[];
  /** Create the namespace (`--create-namespace`). @default false */
  createNamespace?: boolean;
  /** helm's `--timeout` for `--wait`. @default 300 */
  timeoutSeconds?: number;
}

export class ChartInstallError extends Error {
  override name = 'ChartInstallError';
}

/**
 * `helm install RELEASE charts/peernet-operator --wait`: returns once the operator's
 * Deployment is available. Throws a ChartInstallError with helm's output otherwise.
 */
export async function installChart(cluster: Cluster, o: ChartInstall): Promise<void> {
  const args = [
    'install',
    o.release,
    chartDir,
    '--namespace',
    o.namespace,
    ...(o.createNamespace === true ? ['--create-namespace'] : []),
    ...(o.set ?? []).flatMap((s) => ['--set', s]),
    ...(o.setString ?? []).flatMap((s) => ['--set-string', s]),
    '--wait',
    '--timeout',
    `${o.timeoutSeconds ?? 300}s`,
  ];
  const r = await cluster.helm(args);
  if (r.code !== 0) {
    throw new ChartInstallError(`helm ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  }
}

/** `helm uninstall RELEASE --wait`; a release that is not there is no error. */
export async function uninstallChart(
  cluster: Cluster,
  release: string,
  namespace: string,
  timeoutSeconds = 120,
): Promise<void> {
  const r = await cluster.helm([
    'uninstall',
    release,
    '--namespace',
    namespace,
    '--ignore-not-found',
    '--wait',
    '--timeout',
    `${timeoutSeconds}s`,
  ]);
  if (r.code !== 0) {
    throw new ChartInstallError(`helm uninstall ${release} failed (${r.code}): ${r.stderr}`);
  }
}

/** The chart's name for a release's objects (Deployment, ServiceAccount, roles): `_helpers.tpl`. */
export function chartFullname(release: string): string {
  const name = release.includes('peernet-operator') ? release : `${release}-peernet-operator`;
  return name.slice(0, 63).replace(/-+$/, '');
}
