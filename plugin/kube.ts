// What the plugin asks of the API server: the PeerNetwork, its pods, their logs (pods/log), and
// each peer's HTTP API through the pod proxy (pods/proxy), all with the user's kubeconfig over
// the operator's transport (operator/kube/transport.ts: credentials applied and refreshed there).
import type { Readable } from 'node:stream';
import type { V1Secret } from '@kubernetes/client-node';
import type { PeerNetworkObject } from '../operator/api/schema.js';
import type { KubeAccess } from '../operator/kube/config.js';
import { RESOURCES, resourcePath } from '../operator/kube/resources.js';
import { apiTokenOf } from '../operator/pods/children.js';
import { apiTokenSecretName } from '../operator/pods/names.js';
import { createTransport } from '../operator/kube/transport.js';
import { createPeerApiClient, type PeerApiClient } from '../peer/api/client.js';
import { TOKEN_HEADER } from '../peer/api/types.js';

/** The API server refused or failed a request (not the peer behind a proxy). */
export class ApiServerError extends Error {
  override name = 'ApiServerError';
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** The pod fields the plugin reads. */
export interface PodInfo {
  metadata?: { name?: string };
  spec?: { nodeName?: string; containers?: { name: string }[] };
}

export interface Kube {
  readonly namespace: string;
  /** ApiServerError 404 when there is none */
  network(name: string): Promise<PeerNetworkObject>;
  networkNames(): Promise<string[]>;
  namespaces(): Promise<string[]>;
  pods(labelSelector: string): Promise<PodInfo[]>;
  /**
   * the typed client of a peer's HTTP API at `port` of `pod`, through
   * /api/v1/namespaces/NS/pods/POD:PORT/proxy; `token` goes in TOKEN_HEADER
   */
  proxy(pod: string, port: number, token?: string): PeerApiClient;
  /**
   * the network's API token (Secret `<network>-api-token`), which writes and pings need;
   * undefined when there is none. Reading it needs `get` on that Secret: RBAC decides who writes.
   */
  apiToken(network: string): Promise<string | undefined>;
  /** the log of one container, streamed */
  log(
    pod: string,
    container: string,
    opts: { follow: boolean; tail?: number },
    signal: AbortSignal,
  ): Promise<Readable>;
  close(): void;
}

export interface KubeOptions {
  /** per request, except followed logs @default 30000 */
  timeoutMs?: number;
  /** proxied peer requests (a DHT put can take a while) @default 60000 */
  proxyTimeoutMs?: number;
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

/** The message of a Kubernetes Status, if `body` is one. */
function statusMessage(body: Buffer): string | undefined {
  try {
    const s = JSON.parse(body.toString('utf8')) as { kind?: unknown; message?: unknown };
    if (s.kind === 'Status') return typeof s.message === 'string' ? s.message : '';
  } catch {
    // not JSON
  }
  return undefined;
}

// A factory: one short method per thing the plugin asks the API server, sharing its client.
export function createKube(access: KubeAccess, namespace: string, opts: KubeOptions = {}): Kube {
  const transport = createTransport(access);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const proxyTimeoutMs = opts.proxyTimeoutMs ?? 60_000;
  // a server URL may carry a path (an API gateway's prefix): keep it
  const base = access.server.href.replace(/\/+$/, '');
  const urlOf = (path: string, query: Record<string, string> = {}): URL => {
    const u = new URL(base + path);
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
    return u;
  };

  async function send(
    method: string,
    path: string,
    o: {
      query?: Record<string, string>;
      body?: Uint8Array;
      timeoutMs?: number;
      headers?: Record<string, string>;
      signal?: AbortSignal;
    } = {},
  ): Promise<{ code: number; body: Buffer }> {
    const headers: Record<string, string> = { Accept: '*/*', ...o.headers };
    if (o.body) headers['Content-Type'] = 'application/octet-stream';
    let res;
    try {
      res = await transport.open(
        method,
        urlOf(path, o.query),
        headers,
        o.body ? Buffer.from(o.body) : undefined,
        { timeoutMs: o.timeoutMs ?? timeoutMs, ...(o.signal ? { signal: o.signal } : {}) },
      );
    } catch (e) {
      throw new ApiServerError(`cannot reach the API server ${base}: ${(e as Error).message}`, 0);
    }
    return { code: res.code, body: await readAll(res.body) };
  }

  /** a JSON answer of the API server itself */
  async function api<T>(path: string, query?: Record<string, string>): Promise<T> {
    const r = await send('GET', path, query ? { query } : {});
    if (r.code === 200) return JSON.parse(r.body.toString('utf8')) as T;
    const msg = statusMessage(r.body) ?? r.body.toString('utf8').trim().slice(0, 300);
    throw new ApiServerError(msg || `HTTP ${r.code}`, r.code);
  }

  const names = (l: { items: { metadata?: { name?: string } }[] }) =>
    l.items.map((i) => i.metadata?.name ?? '').filter(Boolean);
  const podPath = (pod: string, sub: string) =>
    `${resourcePath(RESOURCES.Pod, namespace, pod)}${sub}`;

  return {
    namespace,
    async network(name) {
      try {
        return await api<PeerNetworkObject>(resourcePath(RESOURCES.PeerNetwork, namespace, name));
      } catch (e) {
        if (e instanceof ApiServerError && e.code === 404)
          throw new ApiServerError(`peernetwork ${name} not found in namespace ${namespace}`, 404);
        throw e;
      }
    },
    async networkNames() {
      return names(await api(resourcePath(RESOURCES.PeerNetwork, namespace)));
    },
    async namespaces() {
      return names(await api('/api/v1/namespaces'));
    },
    async pods(labelSelector) {
      return (
        await api<{ items: PodInfo[] }>(resourcePath(RESOURCES.Pod, namespace), {
          labelSelector,
        })
      ).items;
    },
    async apiToken(network) {
      const name = apiTokenSecretName(network);
      try {
        return apiTokenOf(await api<V1Secret>(resourcePath(RESOURCES.Secret, namespace, name)));
      } catch (e) {
        if (e instanceof ApiServerError && e.code === 404) return undefined;
        if (e instanceof ApiServerError)
          throw new ApiServerError(
            `writes need the network's API token, and reading Secret ${name} failed: ${e.message}`,
            e.code,
          );
        throw e;
      }
    },
    proxy(pod, port, token) {
      // `POD:PORT` with its colon as it is (kubectl's form), not percent-encoded
      const at = `${resourcePath(RESOURCES.Pod, namespace)}/${encodeURIComponent(pod)}:${port}`;
      return createPeerApiClient({
        baseUrl: `${at}/proxy`,
        // not Authorization: the API server consumes that one (peer/api/types.ts)
        ...(token !== undefined ? { token, tokenHeader: TOKEN_HEADER } : {}),
        timeoutMs: proxyTimeoutMs,
        transport: async (req) => {
          const r = await send(req.method, req.url, {
            ...(req.body ? { body: req.body } : {}),
            headers: req.headers,
            timeoutMs: proxyTimeoutMs,
            signal: req.signal,
          });
          // the API server's own refusal (no such pod, forbidden, cannot dial): not the peer's
          const msg = statusMessage(r.body);
          if (msg !== undefined && r.code >= 400)
            throw new ApiServerError(`pod ${pod} port ${port}: ${msg}`, r.code);
          return { status: r.code, body: new Uint8Array(r.body) };
        },
      });
    },
    async log(pod, container, o, signal) {
      const query: Record<string, string> = { container };
      if (o.follow) query.follow = 'true';
      if (o.tail !== undefined) query.tailLines = String(o.tail);
      let res;
      try {
        res = await transport.open(
          'GET',
          urlOf(podPath(pod, '/log'), query),
          { Accept: '*/*' },
          undefined,
          { signal, ...(o.follow ? {} : { timeoutMs }) },
        );
      } catch (e) {
        throw new ApiServerError(`cannot reach the API server ${base}: ${(e as Error).message}`, 0);
      }
      if (res.code !== 200) {
        const b = await readAll(res.body).catch(() => Buffer.alloc(0));
        throw new ApiServerError(
          `logs of ${pod}/${container}: ${statusMessage(b) ?? (b.toString('utf8').trim() || `HTTP ${res.code}`)}`,
          res.code,
        );
      }
      return res.body;
    },
    close: () => transport.close(),
  };
}
