// How to reach the API server: kubeconfig files (KUBECONFIG, merged as kubectl merges them, or
// ~/.kube/config) or the in-cluster ServiceAccount.
//
// The kubeconfig is read here rather than through client-node's KubeConfig, whose import alone
// costs ~80 MiB of memory: certificates, bearer tokens, token files, basic auth and impersonation
// need nothing more. Exec credential plugins and auth providers (OIDC, gcp, azure) are run by
// client-node's authenticators, imported on that path only, on first use.
//
// Credentials may change while the process runs: token files (a ServiceAccount's bound token)
// and client certificate files are re-read at most once a minute, exec credentials are fetched
// again when they expire, and a 401 from the server (see refused()) drops whatever was cached.
// Long: each kind of credential a kubeconfig can hold, in turn.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';

export interface ClientCert {
  cert: Buffer;
  key: Buffer;
}

export interface KubeAccess {
  server: URL;
  ca?: Buffer;
  /** false only with insecure-skip-tls-verify */
  rejectUnauthorized: boolean;
  /** the name to verify the server's certificate against (tls-server-name) */
  servername?: string;
  /** the namespace the context names, if any (kubectl's default for -n) */
  namespace?: string;
  /** Authorization and Impersonate-* headers; called before each request (tokens rotate) */
  headers(): Promise<Record<string, string>>;
  /**
   * The client certificate, when there is one; called before each request. When it changes
   * (a renewed file, an exec plugin's new certificate) the transport dials a new connection.
   */
  clientCert?(): Promise<ClientCert | undefined>;
  /**
   * The server answered 401 to the credentials: drop what is cached so the next call fetches
   * them anew (present only where that can help: token files, certificate files, exec plugins).
   */
  refused?(): void;
}

export class KubeConfigError extends Error {
  override name = 'KubeConfigError';
}

/** An exec plugin or auth provider could not produce credentials. */
export class KubeCredentialsError extends Error {
  override name = 'KubeCredentialsError';
}

/** The part of client-node's KubeConfig this uses (structural, so no runtime import). */
export interface KubeConfigLike {
  getCurrentCluster(): { server: string; skipTLSVerify?: boolean; tlsServerName?: string } | null;
  applyToHTTPSOptions(opts: object): Promise<void>;
}

interface HttpsOptions {
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
  rejectUnauthorized?: boolean;
  headers?: Record<string, string>;
}
const buf = (v: Buffer | string | undefined): Buffer | undefined =>
  v === undefined ? undefined : Buffer.from(v);
const certOf = (o: HttpsOptions): ClientCert | undefined => {
  const cert = buf(o.cert);
  const key = buf(o.key);
  return cert && key ? { cert, key } : undefined;
};

/** From a client-node KubeConfig (tests and callers that already have one). */
export async function kubeAccessFromClientNode(kc: KubeConfigLike): Promise<KubeAccess> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeConfigError('the kubeconfig has no current cluster');
  const opts: HttpsOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const ca = buf(opts.ca);
  const apply = async (): Promise<HttpsOptions> => {
    const o: HttpsOptions = {};
    await kc.applyToHTTPSOptions(o);
    return o;
  };
  return {
    server: new URL(cluster.server),
    ...(ca ? { ca } : {}),
    ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}),
    rejectUnauthorized: opts.rejectUnauthorized ?? !cluster.skipTLSVerify,
    headers: async () => ({ ...((await apply()).headers ?? {}) }),
    clientCert: async () => certOf(await apply()),
  };
}

type Fields = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const fields = (v: unknown): Fields =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Fields) : {};

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** How long a token or certificate read from a file is used before the file is read again. */
const REREAD_MS = 60_000;

/** A file's content, re-read at most once a minute and at once after reset(). */
function fileSource(path: string): { read(): Buffer; reset(): void } {
  let content: Buffer | undefined;
  let at = 0;
  return {
    read() {
      if (content === undefined || Date.now() - at > REREAD_MS) {
        content = readFileSync(path);
        at = Date.now();
      }
      return content;
    },
    reset() {
      at = 0;
    },
  };
}

export function inClusterAccess(
  env: Readonly<Record<string, string | undefined>>,
  dir = SA_DIR,
): KubeAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new KubeConfigError('not running in a cluster (no KUBERNETES_SERVICE_HOST)');
  // a bound ServiceAccount token: the kubelet rewrites the file well before it expires
  const token = fileSource(join(dir, 'token'));
  let namespace: string | undefined;
  try {
    namespace = readFileSync(join(dir, 'namespace'), 'utf8').trim() || undefined;
  } catch {
    // no namespace file: the caller's default applies
  }
  return {
    server: new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`),
    ca: readFileSync(join(dir, 'ca.crt')),
    rejectUnauthorized: true,
    ...(namespace ? { namespace } : {}),
    headers: () =>
      Promise.resolve({ Authorization: `Bearer ${token.read().toString('utf8').trim()}` }),
    refused: () => token.reset(),
  };
}

/** One named entry of the merged kubeconfig, with the folder of the file that defined it. */
interface Entry {
  fields: Fields;
  dir: string;
}

/** The kubeconfig files as kubectl merges them: for each name the first file defining it wins. */
class MergedConfig {
  private constructor(private readonly docs: { path: string; doc: Fields }[]) {}

  /** Missing files of a list are skipped, as kubectl does; one named alone must exist. */
  static read(paths: readonly string[]): MergedConfig {
    const docs: { path: string; doc: Fields }[] = [];
    for (const path of paths) {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (e) {
        if (paths.length > 1 && (e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw new KubeConfigError(`cannot read kubeconfig ${path}: ${(e as Error).message}`);
      }
      try {
        docs.push({ path, doc: fields(parse(text)) });
      } catch (e) {
        throw new KubeConfigError(`kubeconfig ${path} is not YAML: ${(e as Error).message}`);
      }
    }
    if (docs.length === 0)
      throw new KubeConfigError(`none of the kubeconfig files exists: ${paths.join(', ')}`);
    return new MergedConfig(docs);
  }

  get where(): string {
    return this.docs.map((d) => d.path).join(':');
  }

  currentContext(): string | undefined {
    for (const { doc } of this.docs) {
      const c = str(doc['current-context']);
      if (c) return c;
    }
    return undefined;
  }

  find(list: 'contexts' | 'clusters' | 'users', name: string | undefined): Entry {
    const what = list.slice(0, -1);
    for (const { path, doc } of this.docs) {
      const items = Array.isArray(doc[list]) ? (doc[list] as unknown[]) : [];
      const item = items.map(fields).find((x) => x.name === name);
      if (item) return { fields: fields(item[what]), dir: dirname(path) };
    }
    throw new KubeConfigError(
      name === undefined
        ? `kubeconfig ${this.where}: no current context (pass a context)`
        : `kubeconfig ${this.where}: no ${what} named ${JSON.stringify(name)}`,
    );
  }
}

const EXEC_API_VERSIONS = [
  'client.authentication.k8s.io/v1',
  'client.authentication.k8s.io/v1beta1',
];

/** What loads client-node; replaced in tests. */
export type ClientNodeLoader = () => Promise<{ KubeConfig: new () => KubeConfig }>;
/**
 * The specifier is a variable so that bundlers leave it alone: the operator image bundles the
 * worker without node_modules, and inlining client-node there would cost the memory this module
 * exists to save (a pod authenticates with its ServiceAccount and never takes this path).
 */
const CLIENT_NODE: string = '@kubernetes/client-node';
const loadClientNode: ClientNodeLoader = async () => {
  try {
    return (await import(CLIENT_NODE)) as Awaited<ReturnType<ClientNodeLoader>>;
  } catch (e) {
    throw new Error(
      `exec and auth-provider credentials need ${CLIENT_NODE}, which cannot be loaded here: ${(e as Error).message}`,
    );
  }
};

/**
 * The user's exec plugin or auth provider, run by client-node. Only this user and its cluster's
 * address are handed over (one in-memory kubeconfig), so the CA, impersonation and everything
 * else still come from the narrow reader. client-node caches an exec credential until its
 * `expirationTimestamp` (for ever without one) and refreshes OIDC tokens when they expire.
 */
// Long: each credential kind client-node handles, in turn.
function delegatedAuth(
  server: string,
  ca: Buffer | undefined,
  user: Entry,
  load: ClientNodeLoader,
): { auth(): Promise<HttpsOptions>; refused?(): void } {
  const u: Fields = {};
  const exec = fields(user.fields.exec);
  const isExec = user.fields.exec !== undefined;
  let what: string;
  if (isExec) {
    const apiVersion = str(exec.apiVersion);
    if (!apiVersion || !EXEC_API_VERSIONS.includes(apiVersion))
      throw new KubeConfigError(
        `exec credential plugin: apiVersion must be one of ${EXEC_API_VERSIONS.join(', ')}, not ${JSON.stringify(exec.apiVersion)}`,
      );
    let command = str(exec.command);
    if (!command) throw new KubeConfigError('exec credential plugin: no command');
    // as kubectl: a relative path with a separator is relative to the kubeconfig's folder
    if (!isAbsolute(command) && command.includes('/')) command = join(user.dir, command);
    what = `exec credential plugin ${JSON.stringify(command)}`;
    const spec: Fields = { interactive: false };
    if (exec.provideClusterInfo === true) {
      spec.cluster = {
        server,
        ...(ca ? { 'certificate-authority-data': ca.toString('base64') } : {}),
      };
    }
    const env = (Array.isArray(exec.env) ? exec.env : []).map(fields);
    // what client-go tells every plugin (client-node does not)
    if (!env.some((e) => e.name === 'KUBERNETES_EXEC_INFO'))
      env.push({
        name: 'KUBERNETES_EXEC_INFO',
        value: JSON.stringify({ apiVersion, kind: 'ExecCredential', spec }),
      });
    u.exec = { ...exec, command, env };
  } else {
    const provider = fields(user.fields['auth-provider']);
    what = `auth provider ${JSON.stringify(provider.name)}`;
    u['auth-provider'] = provider;
  }
  const doc = JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server } }],
    users: [{ name: 'u', user: u }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  });
  let kc: Promise<KubeConfig> | undefined;
  let refreshedAt = 0;
  let inflight: Promise<HttpsOptions> | undefined;
  const build = async (): Promise<KubeConfig> => {
    const { KubeConfig } = await load();
    const k = new KubeConfig();
    k.loadFromString(doc);
    return k;
  };
  return {
    auth() {
      // one fetch at a time: a burst of requests after expiry runs the plugin once
      inflight ??= (async () => {
        try {
          kc ??= build();
          const o: HttpsOptions = {};
          await (await kc).applyToHTTPSOptions(o);
          return o;
        } catch (e) {
          const msg = ((e as Error).message || String(e)).trim().split('\n')[0];
          throw new KubeCredentialsError(`${what}: ${msg}`);
        } finally {
          inflight = undefined;
        }
      })();
      return inflight;
    },
    // A fresh KubeConfig has an empty exec cache: the plugin runs again (as client-go does on
    // a 401). The requests refused in one burst (all sent with the old credential) share that
    // one run. Auth providers keep their state (an OIDC refresh token may be single-use).
    ...(isExec
      ? {
          refused() {
            if (Date.now() - refreshedAt < 1000) return;
            refreshedAt = Date.now();
            kc = undefined;
          },
        }
      : {}),
  };
}

export interface KubeAccessOptions {
  /** the context to use @default the current context */
  context?: string;
  /** @default a dynamic import of @kubernetes/client-node */
  loadClientNode?: ClientNodeLoader;
}

/** From kubeconfig files, merged as kubectl merges KUBECONFIG's list. */
// Long: each kubeconfig credential kind in turn, as kubectl resolves them.
export function kubeAccessFromFiles(
  paths: readonly string[],
  options: KubeAccessOptions = {},
): KubeAccess {
  const merged = MergedConfig.read(paths);
  const where = merged.where;
  const ctx = merged.find('contexts', options.context ?? merged.currentContext());
  const cluster = merged.find('clusters', str(ctx.fields.cluster));
  const user = str(ctx.fields.user)
    ? merged.find('users', str(ctx.fields.user))
    : { fields: {}, dir: cluster.dir };
  const c = cluster.fields;
  const u = user.fields;
  const server = str(c.server);
  if (!server) throw new KubeConfigError(`kubeconfig ${where}: the cluster has no server`);
  const fileOf = (e: Entry, p: string) => (isAbsolute(p) ? p : join(e.dir, p));
  const readAt = (e: Entry, p: string): Buffer => {
    try {
      return readFileSync(fileOf(e, p));
    } catch (err) {
      throw new KubeConfigError(`kubeconfig ${where}: ${(err as Error).message}`);
    }
  };
  /** inline `<k>-data`, else the file `<k>` (a source re-read as it may be renewed) */
  const data = (
    e: Entry,
    k: string,
  ): { read(): Buffer; reset(): void; file?: boolean } | undefined => {
    const inline = str(e.fields[`${k}-data`]);
    if (inline) {
      const b = Buffer.from(inline, 'base64');
      return { read: () => b, reset: () => {} };
    }
    const p = str(e.fields[k]);
    if (!p) return undefined;
    readAt(e, p); // refuse a missing file now, not at the first request
    return { ...fileSource(fileOf(e, p)), file: true };
  };
  const ca = data(cluster, 'certificate-authority')?.read();
  const certFile = data(user, 'client-certificate');
  const keyFile = data(user, 'client-key');
  const tf = str(u.tokenFile);
  const tokenFile = tf ? fileSource(fileOf(user, tf)) : undefined;
  if (tf) readAt(user, tf);
  const fixed: Record<string, string> = {};
  if (str(u.token)) fixed.Authorization = `Bearer ${str(u.token)}`;
  else if (str(u.username)) {
    fixed.Authorization = `Basic ${Buffer.from(`${str(u.username)}:${str(u.password) ?? ''}`).toString('base64')}`;
  }
  if (str(u.as)) fixed['Impersonate-User'] = str(u.as)!;
  if (str(u['as-uid'])) fixed['Impersonate-Uid'] = str(u['as-uid'])!;
  const groups = u['as-groups'];
  if (Array.isArray(groups) && groups.length > 0)
    fixed['Impersonate-Group'] = groups.map(String).join(',');

  const delegated =
    u.exec !== undefined || u['auth-provider'] !== undefined
      ? delegatedAuth(server, ca, user, options.loadClientNode ?? loadClientNode)
      : undefined;

  const staticCert = (): ClientCert | undefined =>
    certFile && keyFile ? { cert: certFile.read(), key: keyFile.read() } : undefined;
  const namespace = str(ctx.fields.namespace);
  const servername = str(c['tls-server-name']);
  const refreshable =
    delegated?.refused !== undefined || tokenFile !== undefined || certFile?.file === true;
  return {
    server: new URL(server),
    ...(ca ? { ca } : {}),
    ...(servername ? { servername } : {}),
    ...(namespace ? { namespace } : {}),
    rejectUnauthorized: c['insecure-skip-tls-verify'] !== true,
    async headers() {
      const h = { ...fixed };
      if (tokenFile) h.Authorization = `Bearer ${tokenFile.read().toString('utf8').trim()}`;
      if (delegated) {
        const a = (await delegated.auth()).headers?.Authorization;
        if (a) h.Authorization = a;
      }
      return h;
    },
    async clientCert() {
      if (delegated) {
        const fromPlugin = certOf(await delegated.auth());
        if (fromPlugin) return fromPlugin;
      }
      return staticCert();
    },
    ...(refreshable
      ? {
          refused() {
            tokenFile?.reset();
            certFile?.reset();
            keyFile?.reset();
            delegated?.refused?.();
          },
        }
      : {}),
  };
}

/** One kubeconfig file (`--kubeconfig`). */
export function kubeAccessFromFile(
  path: string,
  options: string | KubeAccessOptions = {},
): KubeAccess {
  return kubeAccessFromFiles([path], typeof options === 'string' ? { context: options } : options);
}

/**
 * `kubeconfig` (a --kubeconfig flag) if given, else KUBECONFIG (its files merged), else the
 * in-cluster ServiceAccount, else ~/.kube/config.
 */
export function loadKubeAccess(
  env: Readonly<Record<string, string | undefined>>,
  options: KubeAccessOptions & { kubeconfig?: string } = {},
): KubeAccess {
  if (options.kubeconfig) return kubeAccessFromFiles([options.kubeconfig], options);
  const fromEnv = (env.KUBECONFIG ?? '').split(':').filter(Boolean);
  if (fromEnv.length > 0) return kubeAccessFromFiles(fromEnv, options);
  if (env.KUBERNETES_SERVICE_HOST && !options.context) return inClusterAccess(env);
  return kubeAccessFromFiles([join(env.HOME ?? homedir(), '.kube', 'config')], options);
}
