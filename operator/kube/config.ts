// How to reach the API server: a kubeconfig file (KUBECONFIG or ~/.kube/config: certificates,
// bearer tokens, token files, impersonation) or the in-cluster ServiceAccount. Read here rather
// than through client-node's KubeConfig, whose import alone costs ~80 MiB of memory.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';

export interface KubeAccess {
  server: URL;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** false only with insecure-skip-tls-verify */
  rejectUnauthorized: boolean;
  /** Authorization and Impersonate-* headers; called before requests (tokens may rotate) */
  headers(): Promise<Record<string, string>>;
}

export class KubeConfigError extends Error {
  override name = 'KubeConfigError';
}

/** The part of client-node's KubeConfig this uses (structural, so no runtime import). */
export interface KubeConfigLike {
  getCurrentCluster(): { server: string; skipTLSVerify?: boolean } | null;
  applyToHTTPSOptions(opts: object): Promise<void>;
}

/** From a client-node KubeConfig (tests and callers that already have one). */
export async function kubeAccessFromClientNode(kc: KubeConfigLike): Promise<KubeAccess> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeConfigError('the kubeconfig has no current cluster');
  const opts: {
    ca?: Buffer | string;
    cert?: Buffer | string;
    key?: Buffer | string;
    rejectUnauthorized?: boolean;
    headers?: Record<string, string>;
  } = {};
  await kc.applyToHTTPSOptions(opts);
  const buf = (v: Buffer | string | undefined) => (v === undefined ? undefined : Buffer.from(v));
  const ca = buf(opts.ca);
  const cert = buf(opts.cert);
  const key = buf(opts.key);
  return {
    server: new URL(cluster.server),
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    rejectUnauthorized: opts.rejectUnauthorized ?? !cluster.skipTLSVerify,
    async headers() {
      const o: { headers?: Record<string, string> } = {};
      await kc.applyToHTTPSOptions(o);
      return { ...(o.headers ?? {}) };
    },
  };
}

interface Named<T> {
  name: string;
  [k: string]: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}
type Fields = Record<string, unknown>;

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** A token file is re-read at most once a minute. */
function tokenFromFile(path: string): () => string {
  let token = '';
  let at = 0;
  return () => {
    if (Date.now() - at > 60_000) {
      token = readFileSync(path, 'utf8').trim();
      at = Date.now();
    }
    return token;
  };
}

export function inClusterAccess(env: Readonly<Record<string, string | undefined>>): KubeAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new KubeConfigError('not running in a cluster (no KUBERNETES_SERVICE_HOST)');
  const token = tokenFromFile(join(SA_DIR, 'token'));
  return {
    server: new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`),
    ca: readFileSync(join(SA_DIR, 'ca.crt')),
    rejectUnauthorized: true,
    headers: () => Promise.resolve({ Authorization: `Bearer ${token()}` }),
  };
}

export function kubeAccessFromFile(path: string, context?: string): KubeAccess {
  let doc: Fields;
  try {
    doc = parse(readFileSync(path, 'utf8')) as Fields;
  } catch (e) {
    throw new KubeConfigError(`cannot read kubeconfig ${path}: ${(e as Error).message}`);
  }
  const base = dirname(path);
  const file = (p: string) => readFileSync(isAbsolute(p) ? p : join(base, p));
  const ctxName = context ?? (doc['current-context'] as string | undefined);
  const find = (list: unknown, name: string | undefined, what: string): Fields => {
    const item = ((list as Named<Fields>[] | undefined) ?? []).find((x) => x.name === name);
    if (!item)
      throw new KubeConfigError(`kubeconfig ${path}: no ${what} named ${JSON.stringify(name)}`);
    return (item[what] as Fields | undefined) ?? {};
  };
  const ctx = find(doc.contexts, ctxName, 'context');
  const cluster = find(doc.clusters, ctx.cluster as string, 'cluster');
  const user = ctx.user ? find(doc.users, ctx.user as string, 'user') : {};
  if (user.exec || user['auth-provider']) {
    throw new KubeConfigError(
      `kubeconfig ${path}: exec and auth-provider credentials are not supported`,
    );
  }
  const data = (k: string) => {
    const inline = (user[`${k}-data`] ?? cluster[`${k}-data`]) as string | undefined;
    if (inline) return Buffer.from(inline, 'base64');
    const p = user[k] ?? cluster[k];
    return typeof p === 'string' && p ? file(p) : undefined;
  };
  const ca = data('certificate-authority');
  const cert = data('client-certificate');
  const key = data('client-key');
  const tf = typeof user.tokenFile === 'string' ? user.tokenFile : undefined;
  const tokenFile = tf ? tokenFromFile(isAbsolute(tf) ? tf : join(base, tf)) : undefined;
  const fixed: Record<string, string> = {};
  if (typeof user.token === 'string') fixed.Authorization = `Bearer ${user.token}`;
  else if (typeof user.username === 'string') {
    fixed.Authorization = `Basic ${Buffer.from(`${user.username}:${typeof user.password === 'string' ? user.password : ''}`).toString('base64')}`;
  }
  if (typeof user.as === 'string') fixed['Impersonate-User'] = user.as;
  if (typeof user['as-uid'] === 'string') fixed['Impersonate-Uid'] = user['as-uid'];
  const groups = user['as-groups'];
  if (Array.isArray(groups) && groups.length > 0)
    fixed['Impersonate-Group'] = groups.map(String).join(',');
  if (typeof cluster.server !== 'string')
    throw new KubeConfigError(`kubeconfig ${path}: the cluster has no server`);
  return {
    server: new URL(cluster.server),
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true,
    headers: () =>
      Promise.resolve(tokenFile ? { ...fixed, Authorization: `Bearer ${tokenFile()}` } : fixed),
  };
}

/** KUBECONFIG (its first file), else ~/.kube/config, else the in-cluster ServiceAccount. */
export function loadKubeAccess(env: Readonly<Record<string, string | undefined>>): KubeAccess {
  const fromEnv = env.KUBECONFIG?.split(':').find(Boolean);
  if (fromEnv) return kubeAccessFromFile(fromEnv);
  if (env.KUBERNETES_SERVICE_HOST) return inClusterAccess(env);
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  return kubeAccessFromFile(home);
}
