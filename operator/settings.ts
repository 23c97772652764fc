// Operator settings: parsed once at start from flags and PEERNET_OPERATOR_* environment variables
// (flags win) with zod. A bad setting is reported in one line naming it.
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { isLabelKey, isLabelValue } from './api/labels.js';

export const PACKAGE_VERSION = '0.1.0';

const bool = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1'),
]);
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const list = (def = '') =>
  z
    .string()
    .default(def)
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    );
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** `k=v,k2=v2`, keys and values as in any label */
const labels = (def = '') =>
  list(def).transform((items, ctx) => {
    const out: Record<string, string> = {};
    for (const item of items) {
      const eq = item.indexOf('=');
      const [k, v] = eq < 0 ? [item, undefined] : [item.slice(0, eq), item.slice(eq + 1)];
      if (v === undefined || !isLabelKey(k) || !isLabelValue(v)) {
        ctx.addIssue({ code: 'custom', message: `"${item}" is not a label KEY=VALUE` });
        return z.NEVER;
      }
      out[k] = v;
    }
    return out;
  });
const cidr = (s: string): boolean => {
  const [ip, bits, ...rest] = s.split('/');
  const v = isIP(ip ?? '');
  return (
    rest.length === 0 &&
    v !== 0 &&
    /^[0-9]{1,3}$/.test(bits ?? '') &&
    Number(bits) <= (v === 4 ? 32 : 128)
  );
};
const address = z
  .string()
  .regex(/^([^:]*|\[[0-9a-fA-F:]+\]):[0-9]{1,5}$/, 'must be HOST:PORT (HOST may be empty)');

export const settingsSchema = z
  .object({
    namespaces: list()
      .pipe(z.array(z.string().regex(DNS_LABEL, 'namespace names are DNS labels')))
      .meta({ description: 'comma-separated namespaces to watch; empty: all namespaces' }),
    peerImage: z.string().min(1).default(`peernet/peer:${PACKAGE_VERSION}`),
    logLevel: z
      .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
      .default('info'),
    kubeQps: int(1, 10_000).default(100),
    kubeBurst: int(1, 20_000).default(200),
    metricsAddress: address.default(':8080'),
    clusterDomain: z
      .string()
      .max(63)
      .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/)
      .default('cluster.local'),
    leaderElect: bool.default(true),
    leaseNamespace: z.string().min(1).default('default'),
    leaseName: z.string().min(1).default('peernet-operator'),
    identity: z.string().min(1).default(`${hostname()}-${process.pid}`),
    workers: int(1, 64).default(4),
    watchNodes: bool.default(true),
    /** the whole `GET /v1/status` exchange with one peer, not only an idle socket */
    peerStatusTimeoutMs: int(50, 60_000).default(1000),
    drainTimeoutMs: int(50, 600_000).default(5000),
    /**
     * one reconcile's deadline: then its peer calls end, no new write starts, the status says
     * which peers did not answer, and the network is reconciled again with backoff
     */
    reconcileTimeoutMs: int(100, 600_000).default(10_000),
    /** a NetworkPolicy for every network whose spec does not turn it off */
    networkPolicy: bool.default(true),
    /** the operator's own pods, admitted to the peers' API ports: their namespace ... */
    networkPolicyOperatorNamespace: z
      .string()
      .regex(DNS_LABEL, 'must be a namespace name')
      .or(z.literal(''))
      .default(''),
    /** ... and their labels */
    networkPolicyOperatorLabels: labels('app.kubernetes.io/name=peernet-operator'),
    /** the metrics scraper's namespace (empty: no scraper admitted) ... */
    networkPolicyMetricsNamespace: z
      .string()
      .regex(DNS_LABEL, 'must be a namespace name')
      .or(z.literal(''))
      .default(''),
    /** ... and its pods' labels (empty: every pod of that namespace) */
    networkPolicyMetricsLabels: labels(),
    /** CIDRs admitted to the API ports too (the control plane, for kubectl peernet) */
    networkPolicyApiCidrs: list().pipe(
      z.array(z.string().refine(cidr, 'must be CIDRs such as 10.0.0.0/8 or fd00::/8')),
    ),
    progressingRequeueSeconds: int(1, 3600).default(5),
    readyResyncSeconds: int(1, 86_400).default(60),
    /** least time between two reconciles of one network: events in between are folded in */
    reconcileIntervalMs: int(0, 60_000).default(200),
    /** least time between two status writes of one network while it stays Pending or Progressing */
    statusIntervalMs: int(0, 60_000).default(1000),
  })
  .strict();

export type Settings = z.output<typeof settingsSchema>;

/** `peerImage` <-> `--peer-image` <-> `PEERNET_OPERATOR_PEER_IMAGE` */
const flagOf = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const envOf = (key: string) => `PEERNET_OPERATOR_${flagOf(key).replace(/-/g, '_').toUpperCase()}`;

export class SettingsError extends Error {
  override name = 'SettingsError';
}

export function parseSettings(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Settings {
  const keys = Object.keys(settingsSchema.shape);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: Object.fromEntries(keys.map((k) => [flagOf(k), { type: 'string' as const }])),
      allowPositionals: false,
      strict: true,
    }));
  } catch (e) {
    throw new SettingsError((e as Error).message.split('\n')[0]);
  }
  const raw: Record<string, unknown> = {};
  for (const k of keys) {
    const v = values[flagOf(k)] ?? env[envOf(k)];
    if (v !== undefined) raw[k] = v;
  }
  // in a pod, the lease lives next to the operator unless told otherwise
  if (raw.leaseNamespace === undefined && env.POD_NAMESPACE) raw.leaseNamespace = env.POD_NAMESPACE;
  if (raw.identity === undefined && env.POD_NAME) raw.identity = env.POD_NAME;
  // and its NetworkPolicies admit the operator's pods from the namespace it runs in
  if (raw.networkPolicyOperatorNamespace === undefined && env.POD_NAMESPACE)
    raw.networkPolicyOperatorNamespace = env.POD_NAMESPACE;
  const r = settingsSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const key = String(issue.path[0] ?? '');
    throw new SettingsError(`invalid setting --${flagOf(key)} (${envOf(key)}): ${issue.message}`);
  }
  if (r.data.kubeBurst < r.data.kubeQps) {
    throw new SettingsError(
      `invalid setting --kube-burst (${envOf('kubeBurst')}): must be at least --kube-qps`,
    );
  }
  return r.data;
}
