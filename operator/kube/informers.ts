// Informers (list + watch caches) on PeerNetworks and on the children the operator owns. A watch
// that errors or ends is restarted with backoff and jitter; client-node relists on 410 Gone.
import { ListWatch, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { V1ConfigMap, V1Node, V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import type { PeerNetworkObject } from '../api/schema.js';
import { MANAGED_BY_SELECTOR } from '../pods/names.js';
import type { Clock } from '../reconcile/clock.js';
import type { Logger } from '../logger.js';
import type { KubeClient, KubeObject } from './client.js';
import { RESOURCES, resourcePath, type ResourceType } from './resources.js';

export interface Store<T> {
  get(namespace: string | undefined, name: string): T | undefined;
  list(namespace?: string): readonly T[];
}

export type EventKind = 'add' | 'update' | 'delete';

export interface Informer<T> extends Store<T> {
  on(cb: (kind: EventKind, obj: T) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  synced(): boolean;
}

export interface InformerOptions {
  /** namespaces to watch; empty: all */
  namespaces: readonly string[];
  labelSelector?: string;
}

export function createInformer<T extends KubeObject>(
  kc: KubeConfig,
  client: KubeClient,
  r: ResourceType,
  options: InformerOptions,
  clock: Clock,
  logger: Logger,
): Informer<T> {
  const namespaces =
    r.namespaced && options.namespaces.length > 0 ? options.namespaces : [undefined];
  const callbacks: ((kind: EventKind, obj: T) => void)[] = [];
  let stopped = false;

  const parts = namespaces.map((ns) => {
    const lw = new ListWatch<KubernetesObject>(
      resourcePath(r, ns),
      new Watch(kc),
      async () => {
        const list = await client.list<T>(r, ns, options.labelSelector);
        // list items carry no apiVersion/kind; fill them so the cache is self-describing
        for (const item of list.items) {
          item.apiVersion ??= r.apiVersion;
          item.kind ??= r.kind;
        }
        return list as unknown as {
          items: KubernetesObject[];
          metadata: { resourceVersion?: string };
        };
      },
      false,
      options.labelSelector,
    );
    const part = {
      ns,
      lw,
      synced: false,
      failures: 0,
      errored: false,
      timer: undefined as { cancel(): void } | undefined,
    };
    for (const kind of ['add', 'update', 'delete'] as const) {
      lw.on(kind, (obj) => {
        for (const cb of callbacks) cb(kind, obj as unknown as T);
      });
    }
    lw.on('error', (err?: unknown) => retry(part, err));
    return part;
  });

  function retry(part: (typeof parts)[number], err: unknown): void {
    part.errored = true;
    if (stopped) return;
    part.failures++;
    const delay =
      Math.min(30_000, 500 * 2 ** Math.min(part.failures - 1, 6)) * (0.8 + 0.4 * Math.random());
    logger.warn(
      {
        resource: r.plural,
        namespace: part.ns,
        err: (err as Error | undefined)?.message,
        retryInMs: Math.round(delay),
      },
      'watch failed; restarting',
    );
    part.timer = clock.setTimer(delay, () => void startPart(part));
  }

  async function startPart(part: (typeof parts)[number]): Promise<void> {
    if (stopped) return;
    part.errored = false;
    try {
      await part.lw.start();
    } catch (err) {
      retry(part, err);
      return;
    }
    if (!part.errored) {
      part.synced = true;
      part.failures = 0;
    }
  }

  const find = (ns: string | undefined) =>
    r.namespaced && options.namespaces.length > 0 ? parts.find((p) => p.ns === ns) : parts[0];

  return {
    get(namespace, name) {
      return find(namespace)?.lw.get(name, r.namespaced ? namespace : undefined) as T | undefined;
    },
    list(namespace) {
      if (namespace !== undefined)
        return (find(namespace)?.lw.list(namespace) ?? []) as unknown as T[];
      return parts.flatMap((p) => p.lw.list() as unknown as T[]);
    },
    on(cb) {
      callbacks.push(cb);
    },
    async start() {
      stopped = false;
      await Promise.all(parts.map((p) => startPart(p)));
    },
    async stop() {
      stopped = true;
      for (const p of parts) p.timer?.cancel();
      await Promise.all(parts.map((p) => p.lw.stop()));
    },
    synced: () => parts.every((p) => p.synced),
  };
}

export interface Informers {
  networks: Informer<PeerNetworkObject>;
  pods: Informer<V1Pod>;
  secrets: Informer<V1Secret>;
  configMaps: Informer<V1ConfigMap>;
  services: Informer<V1Service>;
  nodes: Informer<V1Node>;
  start(): Promise<void>;
  stop(): Promise<void>;
  synced(): boolean;
}

export function createInformers(
  kc: KubeConfig,
  client: KubeClient,
  namespaces: readonly string[],
  clock: Clock,
  logger: Logger,
): Informers {
  const owned = { namespaces, labelSelector: MANAGED_BY_SELECTOR };
  const make = <T extends KubeObject>(r: ResourceType, o: InformerOptions) =>
    createInformer<T>(kc, client, r, o, clock, logger);
  const inf = {
    networks: make<PeerNetworkObject & KubeObject>(RESOURCES.PeerNetwork, {
      namespaces,
    }) as Informer<PeerNetworkObject>,
    pods: make<V1Pod & KubeObject>(RESOURCES.Pod, owned) as Informer<V1Pod>,
    secrets: make<V1Secret & KubeObject>(RESOURCES.Secret, owned) as Informer<V1Secret>,
    configMaps: make<V1ConfigMap & KubeObject>(RESOURCES.ConfigMap, owned) as Informer<V1ConfigMap>,
    services: make<V1Service & KubeObject>(RESOURCES.Service, owned) as Informer<V1Service>,
    nodes: make<V1Node & KubeObject>(RESOURCES.Node, { namespaces: [] }) as Informer<V1Node>,
  };
  const all = Object.values(inf);
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
