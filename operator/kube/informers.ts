// Informers: a list, then a watch from its resourceVersion, keeping a cache and calling back on
// every change. A watch the server ends is resumed from the last resourceVersion (bookmarks keep
// it fresh); 410 Gone relists; any other failure retries with exponential backoff and jitter.
import type {
  V1ConfigMap,
  V1Node,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';
import type { PeerNetworkObject } from '../api/schema.js';
import { MANAGED_BY_SELECTOR } from '../pods/names.js';
import type { Clock } from '../reconcile/clock.js';
import type { Logger } from '../logger.js';
import { KubeApiError, type KubeClient, type KubeObject } from './client.js';
import { RESOURCES, type ResourceType } from './resources.js';

export interface Store<T> {
  get(namespace: string | undefined, name: string): T | undefined;
  list(namespace?: string): readonly T[];
}

export type EventKind = 'add' | 'update' | 'delete';

export interface Informer<T> extends Store<T> {
  on(cb: (kind: EventKind, obj: T) => void): void;
  /** starts listing and watching; resolves once the first list is in the cache (or on stop) */
  start(): Promise<void>;
  stop(): Promise<void>;
  synced(): boolean;
}

export interface InformerOptions {
  /** namespaces to watch; empty: all */
  namespaces: readonly string[];
  labelSelector?: string;
  random?: () => number;
}

// A factory: the list-watch loop and the cache share one closure state.
export function createInformer<T extends KubeObject>(
  client: KubeClient,
  r: ResourceType,
  options: InformerOptions,
  clock: Clock,
  logger: Logger,
): Informer<T> {
  const random = options.random ?? Math.random;
  const scopes =
    r.namespaced && options.namespaces.length > 0 ? [...options.namespaces] : [undefined];
  const callbacks: ((kind: EventKind, obj: T) => void)[] = [];
  // namespace ('' when cluster-scoped) -> name -> object
  const cache = new Map<string, Map<string, T>>();
  const syncedScopes = new Set<string | undefined>();
  let abort = new AbortController();
  let loops: Promise<void>[] = [];

  const emit = (kind: EventKind, obj: T) => {
    for (const cb of callbacks) cb(kind, obj);
  };
  const bucket = (ns: string) => {
    let m = cache.get(ns);
    if (!m) cache.set(ns, (m = new Map<string, T>()));
    return m;
  };
  const upsert = (obj: T) => {
    // nothing here reads managedFields, and they are often the larger half of an object
    // (a copy without them, not `delete`, which would leave V8 a slower, larger object)
    if (obj.metadata?.managedFields) {
      const { managedFields: _, ...metadata } = obj.metadata;
      obj.metadata = metadata;
    }
    obj.apiVersion ??= r.apiVersion;
    obj.kind ??= r.kind;
    const b = bucket(obj.metadata?.namespace ?? '');
    const name = obj.metadata?.name ?? '';
    const old = b.get(name);
    b.set(name, obj);
    if (!old) emit('add', obj);
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) emit('update', obj);
  };
  const remove = (obj: T) => {
    const b = bucket(obj.metadata?.namespace ?? '');
    const name = obj.metadata?.name ?? '';
    const old = b.get(name);
    if (old) {
      b.delete(name);
      emit('delete', old);
    }
  };

  async function run(
    ns: string | undefined,
    signal: AbortSignal,
    onSynced: () => void,
  ): Promise<void> {
    let rv = '';
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (!rv) {
          const list = await client.list<T>(r, ns, options.labelSelector);
          const seen = new Set<string>();
          for (const item of list.items) {
            seen.add(`${item.metadata?.namespace ?? ''}/${item.metadata?.name ?? ''}`);
            upsert(item);
          }
          // objects deleted while we were not watching
          for (const [bns, b] of cache) {
            if (ns !== undefined && bns !== ns) continue;
            for (const obj of [...b.values()]) {
              if (!seen.has(`${bns}/${obj.metadata?.name ?? ''}`)) remove(obj);
            }
          }
          rv = list.metadata.resourceVersion ?? '';
          syncedScopes.add(ns);
          onSynced();
        }
        const watchStart = clock.now();
        let events = 0;
        await client.watch(
          r,
          ns,
          {
            resourceVersion: rv,
            ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
            timeoutSeconds: 240 + Math.floor(random() * 120),
          },
          (type, obj) => {
            const o = obj as T;
            if (type === 'ADDED' || type === 'MODIFIED') upsert(o);
            else if (type === 'DELETED') remove(o);
            rv = o.metadata?.resourceVersion ?? rv;
            failures = 0;
            events++;
          },
          signal,
        );
        // a watch cut at once, again and again, must not become a request loop
        if (events === 0 && clock.now() - watchStart < 1000 && !signal.aborted) {
          throw new KubeApiError(`the ${r.plural} watch ended at once`, 0, 'WatchEnded');
        }
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof KubeApiError && err.code === 410) {
          rv = ''; // too old: relist at once
          continue;
        }
        failures++;
        const delay =
          Math.min(30_000, 250 * 2 ** Math.min(failures - 1, 7)) * (0.8 + 0.4 * random());
        logger.warn(
          {
            resource: r.plural,
            namespace: ns,
            err: (err as Error).message,
            retryInMs: Math.round(delay),
          },
          'list/watch failed; retrying',
        );
        await clock.sleep(delay, signal);
      }
    }
  }

  return {
    get(namespace, name) {
      return cache.get(r.namespaced ? (namespace ?? '') : '')?.get(name);
    },
    list(namespace) {
      if (namespace !== undefined) return [...(cache.get(namespace)?.values() ?? [])];
      return [...cache.values()].flatMap((b) => [...b.values()]);
    },
    on(cb) {
      callbacks.push(cb);
    },
    start() {
      abort = new AbortController();
      const signal = abort.signal;
      return new Promise<void>((resolve) => {
        let pending = scopes.length;
        const onSynced = () => {
          if (--pending === 0) resolve();
        };
        signal.addEventListener('abort', () => resolve());
        loops = scopes.map((ns) => run(ns, signal, onSynced));
      });
    },
    async stop() {
      abort.abort();
      await Promise.allSettled(loops);
    },
    synced: () => scopes.every((s) => syncedScopes.has(s)),
  };
}

export interface Informers {
  networks: Informer<PeerNetworkObject>;
  pods: Informer<V1Pod>;
  secrets: Informer<V1Secret>;
  configMaps: Informer<V1ConfigMap>;
  services: Informer<V1Service>;
  nodes: Informer<V1Node>;
  pdbs: Informer<KubeObject>;
  networkPolicies: Informer<KubeObject>;
  claims: Informer<V1PersistentVolumeClaim>;
  start(): Promise<void>;
  stop(): Promise<void>;
  synced(): boolean;
}

export function createInformers(
  client: KubeClient,
  namespaces: readonly string[],
  clock: Clock,
  logger: Logger,
  options: { watchNodes: boolean } = { watchNodes: true },
): Informers {
  const owned = { namespaces, labelSelector: MANAGED_BY_SELECTOR };
  const make = <T>(r: ResourceType, o: InformerOptions) =>
    createInformer<T & KubeObject>(client, r, o, clock, logger) as unknown as Informer<T>;
  const inf = {
    networks: make<PeerNetworkObject>(RESOURCES.PeerNetwork, { namespaces }),
    pods: make<V1Pod>(RESOURCES.Pod, owned),
    secrets: make<V1Secret>(RESOURCES.Secret, owned),
    configMaps: make<V1ConfigMap>(RESOURCES.ConfigMap, owned),
    services: make<V1Service>(RESOURCES.Service, owned),
    nodes: make<V1Node>(RESOURCES.Node, { namespaces: [] }),
    pdbs: make<KubeObject>(RESOURCES.PodDisruptionBudget, owned),
    networkPolicies: make<KubeObject>(RESOURCES.NetworkPolicy, owned),
    claims: make<V1PersistentVolumeClaim>(RESOURCES.PersistentVolumeClaim, owned),
  };
  const all = options.watchNodes
    ? Object.values(inf)
    : Object.values(inf).filter((i) => i !== inf.nodes);
  return {
    ...inf,
    async start() {
      await Promise.all(all.map((i) => i.start()));
    },
    async stop() {
      await Promise.all(all.map((i) => i.stop()));
    },
    synced: () => all.every((i) => i.synced()),
  };
}
