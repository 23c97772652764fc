// A narrow Kubernetes REST client with a client-side rate limit (QPS/burst) and watches streamed
// line by line, over ./transport.ts (HTTP/2 to a TLS server); authenticated by a KubeAccess.
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import type { Clock } from '../reconcile/clock.js';
import { FIELD_MANAGER } from '../pods/names.js';
import type { KubeAccess } from './config.js';
import { resourceFor, resourcePath, type ResourceType } from './resources.js';
import { createTransport } from './transport.js';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: {
      uid: string;
      controller?: boolean;
      kind: string;
      name: string;
      apiVersion: string;
    }[];
    deletionTimestamp?: string | Date;
    generation?: number;
    /** server-side apply bookkeeping; informers drop it (see informers.ts) */
    managedFields?: unknown[];
  };
}

export interface KubeList<T> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

/** A refusal or failure from the API server; `code` is the HTTP status (0: no answer). */
export class KubeApiError extends Error {
  override name = 'KubeApiError';
  constructor(
    message: string,
    readonly code: number,
    readonly reason: string,
    /** `details.causes[].reason` of the Status, e.g. NamespaceTerminating */
    readonly causes: readonly string[] = [],
  ) {
    super(message);
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof KubeApiError && e.code === 404;
export const isConflict = (e: unknown): boolean => e instanceof KubeApiError && e.code === 409;
/**
 * A create refused because its namespace is being deleted: nothing to retry or report, the
 * namespace takes the network with it (the built-in controllers ignore it the same way).
 */
export const isNamespaceTerminating = (e: unknown): boolean =>
  e instanceof KubeApiError && e.code === 403 && e.causes.includes('NamespaceTerminating');
export const isAlreadyExists = (e: unknown): boolean =>
  e instanceof KubeApiError && e.code === 409 && e.reason === 'AlreadyExists';
/** 4xx other than conflicts and throttling: retrying the same request will not help. */
export const isPermanent = (e: unknown): boolean =>
  e instanceof KubeApiError && e.code >= 400 && e.code < 500 && ![404, 409, 429].includes(e.code);

export interface KubeClient {
  get<T extends KubeObject>(
    r: ResourceType,
    namespace: string | undefined,
    name: string,
  ): Promise<T | undefined>;
  list<T extends KubeObject>(
    r: ResourceType,
    namespace?: string,
    labelSelector?: string,
  ): Promise<KubeList<T>>;
  create<T extends KubeObject>(obj: T): Promise<T>;
  /** server-side apply with field manager `peernet-operator`, forced */
  apply<T extends KubeObject>(obj: T): Promise<T>;
  /** PUT, conflicting when metadata.resourceVersion is stale */
  update<T extends KubeObject>(obj: T): Promise<T>;
  updateStatus<T extends KubeObject>(obj: T): Promise<T>;
  /** false when it was already gone */
  delete(
    r: ResourceType,
    namespace: string | undefined,
    name: string,
    opts?: { uid?: string },
  ): Promise<boolean>;
  /**
   * Streams watch events until the server ends the watch (resolves), the signal aborts
   * (resolves) or the request fails (rejects; code 410 when the resourceVersion is too old).
   */
  watch(
    r: ResourceType,
    namespace: string | undefined,
    params: WatchParams,
    onEvent: (type: WatchEventType, obj: KubeObject) => void,
    signal: AbortSignal,
  ): Promise<void>;
  /** closes the connection (after stop) */
  close(): void;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchParams {
  resourceVersion: string;
  labelSelector?: string;
  /** the server ends the watch after this long @default 300 */
  timeoutSeconds?: number;
}

export interface KubeClientOptions {
  /** requests per second, sustained @default 100 */
  qps?: number;
  /** requests allowed in a burst @default 200 */
  burst?: number;
  /** per-request timeout @default 30000 */
  timeoutMs?: number;
  /** called for every request sent (metrics) */
  onRequest?: (method: string, resource: string) => void;
}

/** Token bucket: `take()` resolves when a request may go. */
class RateLimiter {
  private tokens: number;
  private last: number;
  private chain: Promise<void> = Promise.resolve();
  constructor(
    private readonly qps: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }
  take(): Promise<void> {
    const next = this.chain.then(async () => {
      for (;;) {
        const now = this.clock.now();
        this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
        this.last = now;
        if (this.tokens >= 1) {
          this.tokens -= 1;
          return;
        }
        await this.clock.sleep(Math.ceil(((1 - this.tokens) / this.qps) * 1000));
      }
    });
    this.chain = next;
    return next;
  }
}

// A factory: one short method per API verb, sharing the transport and the rate limiter.
export function createKubeClient(
  access: KubeAccess,
  clock: Clock,
  options: KubeClientOptions = {},
): KubeClient {
  const server = access.server;
  const transport = createTransport(access);
  const limiter = new RateLimiter(options.qps ?? 100, options.burst ?? 200, clock);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const authHeaders = () => access.headers();

  async function readAll(body: Readable): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
    return Buffer.concat(chunks).toString('utf8');
  }

  function apiError(what: string, code: number, text: string): KubeApiError {
    let st: { message?: string; reason?: string; details?: { causes?: { reason?: string }[] } } =
      {};
    try {
      st = JSON.parse(text) as typeof st;
    } catch {
      // not a Status
    }
    return new KubeApiError(
      `${what}: ${code} ${st.message ?? text.slice(0, 200)}`,
      code,
      st.reason ?? '',
      (st.details?.causes ?? []).map((c) => c.reason ?? ''),
    );
  }

  async function request<T>(
    method: string,
    path: string,
    query: Record<string, string> = {},
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> {
    await limiter.take();
    options.onRequest?.(method, path.split('/').filter(Boolean).at(-1) ?? '');
    const url = new URL(path, server);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const h: Record<string, string> = { ...(await authHeaders()), Accept: 'application/json' };
    if (payload) h['Content-Type'] = contentType;
    const what = `${method} ${url.pathname}`;
    let text: string;
    let code: number;
    try {
      const res = await transport.open(method, url, h, payload, { timeoutMs });
      code = res.code;
      text = await readAll(res.body);
    } catch (err) {
      throw new KubeApiError(`${what}: ${(err as Error).message}`, 0, 'ConnectionError');
    }
    if (code >= 200 && code < 300) return (text ? JSON.parse(text) : undefined) as T;
    throw apiError(what, code, text);
  }

  const pathOf = (obj: KubeObject, sub?: string): string => {
    const r = resourceFor(obj.apiVersion, obj.kind);
    return resourcePath(r, obj.metadata?.namespace, obj.metadata?.name, sub);
  };

  return {
    async get<T extends KubeObject>(r: ResourceType, namespace: string | undefined, name: string) {
      try {
        return await request<T>('GET', resourcePath(r, namespace, name));
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    list<T extends KubeObject>(r: ResourceType, namespace?: string, labelSelector?: string) {
      return request<KubeList<T>>(
        'GET',
        resourcePath(r, namespace),
        labelSelector ? { labelSelector } : {},
      );
    },
    create<T extends KubeObject>(obj: T) {
      const r = resourceFor(obj.apiVersion, obj.kind);
      return request<T>(
        'POST',
        resourcePath(r, obj.metadata?.namespace),
        { fieldManager: FIELD_MANAGER },
        obj,
      );
    },
    apply<T extends KubeObject>(obj: T) {
      return request<T>(
        'PATCH',
        pathOf(obj),
        { fieldManager: FIELD_MANAGER, force: 'true' },
        obj,
        'application/apply-patch+yaml',
      );
    },
    update<T extends KubeObject>(obj: T) {
      return request<T>('PUT', pathOf(obj), { fieldManager: FIELD_MANAGER }, obj);
    },
    updateStatus<T extends KubeObject>(obj: T) {
      return request<T>('PUT', pathOf(obj, 'status'), { fieldManager: FIELD_MANAGER }, obj);
    },
    async watch(r, namespace, params, onEvent, signal) {
      await limiter.take();
      options.onRequest?.('WATCH', r.plural);
      const url = new URL(resourcePath(r, namespace), server);
      url.searchParams.set('watch', 'true');
      url.searchParams.set('allowWatchBookmarks', 'true');
      url.searchParams.set('resourceVersion', params.resourceVersion);
      url.searchParams.set('timeoutSeconds', String(params.timeoutSeconds ?? 300));
      if (params.labelSelector) url.searchParams.set('labelSelector', params.labelSelector);
      const headers = { ...(await authHeaders()), Accept: 'application/json' };
      const what = `WATCH ${url.pathname}`;
      if (signal.aborted) return;
      let res;
      try {
        res = await transport.open('GET', url, headers, undefined, { signal });
      } catch (err) {
        if (signal.aborted) return;
        throw new KubeApiError(`${what}: ${(err as Error).message}`, 0, 'ConnectionError');
      }
      if (res.code !== 200) throw apiError(what, res.code, await readAll(res.body).catch(() => ''));
      // One JSON object a line. A line (a 200-peer PeerNetwork is ~80 KB) spans many chunks: the
      // pieces are kept until its newline and joined once; a character split between two chunks
      // is joined by the decoder.
      const decoder = new StringDecoder('utf8');
      let pieces: string[] = [];
      try {
        for await (const chunk of res.body) {
          const text = typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer);
          let from = 0;
          for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', from)) {
            pieces.push(text.slice(from, nl));
            from = nl + 1;
            const line = pieces.join('');
            pieces = [];
            if (!line.trim()) continue;
            const ev = JSON.parse(line) as {
              type: WatchEventType;
              object: KubeObject & { code?: number; message?: string; reason?: string };
            };
            if (ev.type === 'ERROR') {
              const o = ev.object;
              throw new KubeApiError(
                `${what}: ${o.code ?? 0} ${o.message ?? ''}`,
                o.code ?? 0,
                o.reason ?? '',
              );
            }
            onEvent(ev.type, ev.object);
          }
          if (from < text.length) pieces.push(text.slice(from));
        }
      } catch (err) {
        res.body.destroy();
        if (signal.aborted) return;
        if (err instanceof KubeApiError) throw err;
        throw new KubeApiError(`${what}: ${(err as Error).message}`, 0, 'ConnectionError');
      }
    },
    close() {
      transport.close();
    },
    async delete(
      r: ResourceType,
      namespace: string | undefined,
      name: string,
      opts: { uid?: string } = {},
    ) {
      const body = opts.uid
        ? { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: opts.uid } }
        : undefined;
      try {
        await request('DELETE', resourcePath(r, namespace, name), {}, body);
        return true;
      } catch (e) {
        if (isNotFound(e)) return false;
        // uid precondition failed: the object we meant is gone, a new one took its name
        if (e instanceof KubeApiError && e.code === 409 && opts.uid) return false;
        throw e;
      }
    },
  };
}
