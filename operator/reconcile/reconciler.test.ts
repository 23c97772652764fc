// The reconcile pipeline against an in-memory API server and cache, a manual clock and scripted
// peers. The cluster tests (test/cluster/operator-*.test.ts) run the same reconciler against a
// real control plane; these pin down its decisions one by one, fast.
import type { V1Pod } from '@kubernetes/client-node';
import type { PeerNetworkObject } from '../api/schema.js';
import { KubeApiError, type KubeClient, type KubeObject } from '../kube/client.js';
import type { EventRecorder } from '../kube/events.js';
import type { Store } from '../kube/informers.js';
import type { ResourceType } from '../kube/resources.js';
import { createLogger } from '../logger.js';
import { keysSecretName, serviceName, bootstrapConfigMapName } from '../pods/names.js';
import type { PeerLive } from '../status/status.js';
import { createManualClock, settle, type ManualClock } from './manual-clock.js';
import type { PeerCallOptions, PeerStatusClient } from './peers.js';
import {
  StaleCacheError,
  createReconciler,
  type ClusterCache,
  type ReconcileResult,
} from './reconciler.js';

const NS = 'ns';

/** One turn of the event loop, as a request to a server takes at least. */
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** An API server in memory: uids, resourceVersions, conflicts, AlreadyExists; no admission. */
class MemoryApi implements KubeClient {
  readonly objects = new Map<string, KubeObject>();
  readonly writes: string[] = [];
  /** a write the server refuses, when this returns an error */
  refuse?: (verb: string, obj: KubeObject) => KubeApiError | undefined;
  private rv = 1;
  private uid = 1;

  static id(kind: string, ns: string | undefined, name: string): string {
    return `${kind}/${ns ?? ''}/${name}`;
  }
  private idOf(obj: KubeObject): string {
    return MemoryApi.id(obj.kind ?? '', obj.metadata?.namespace, obj.metadata?.name ?? '');
  }
  private stamp<T extends KubeObject>(obj: T, uid?: string): T {
    const copy = structuredClone(obj);
    copy.metadata = {
      ...copy.metadata,
      uid: uid ?? copy.metadata?.uid ?? `uid-${this.uid++}`,
      resourceVersion: String(this.rv++),
    };
    this.objects.set(this.idOf(copy), copy);
    return structuredClone(copy);
  }
  private check(verb: string, obj: KubeObject): void {
    const err = this.refuse?.(verb, obj);
    if (err) throw err;
    this.writes.push(`${verb} ${obj.kind} ${obj.metadata?.name}`);
  }
  async get<T extends KubeObject>(r: ResourceType, ns: string | undefined, name: string) {
    await tick();
    const o = this.objects.get(MemoryApi.id(r.kind, ns, name));
    return o ? (structuredClone(o) as T) : undefined;
  }
  list(): never {
    throw new Error('the reconciler reads lists from the cache');
  }
  async create<T extends KubeObject>(obj: T): Promise<T> {
    await tick();
    this.check('create', obj);
    if (this.objects.has(this.idOf(obj)))
      throw new KubeApiError(`${obj.kind} exists`, 409, 'AlreadyExists');
    return this.stamp(obj, `uid-${this.uid++}`);
  }
  async apply<T extends KubeObject>(obj: T): Promise<T> {
    await tick();
    this.check('apply', obj);
    const old = this.objects.get(this.idOf(obj));
    return this.stamp({ ...old, ...obj }, old?.metadata?.uid);
  }
  async update<T extends KubeObject>(obj: T): Promise<T> {
    await tick();
    this.check('update', obj);
    const old = this.objects.get(this.idOf(obj));
    if (!old) throw new KubeApiError('not found', 404, 'NotFound');
    if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion)
      throw new KubeApiError('stale', 409, 'Conflict');
    return this.stamp(obj, old.metadata?.uid);
  }
  async updateStatus<T extends KubeObject>(obj: T): Promise<T> {
    await tick();
    this.check('updateStatus', obj);
    const old = this.objects.get(this.idOf(obj));
    if (!old) throw new KubeApiError('not found', 404, 'NotFound');
    if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion)
      throw new KubeApiError('stale', 409, 'Conflict');
    return this.stamp({ ...old, status: (obj as { status?: unknown }).status } as unknown as T);
  }
  async delete(r: ResourceType, ns: string | undefined, name: string): Promise<boolean> {
    await tick();
    this.writes.push(`delete ${r.kind} ${name}`);
    return this.objects.delete(MemoryApi.id(r.kind, ns, name));
  }
  watch(): never {
    throw new Error('not watched');
  }
  close(): void {}

  /** The objects of one kind, by name. */
  all<T extends KubeObject>(kind: string): Map<string, T> {
    const found = new Map<string, T>();
    for (const o of this.objects.values())
      if (o.kind === kind) found.set(o.metadata?.name ?? '', o as T);
    return found;
  }
}

/** Informer caches that show the API server's objects, or a snapshot of them while lagging. */
function cacheOf(api: MemoryApi): ClusterCache & { lag(on: boolean): void } {
  let frozen: Map<string, KubeObject> | undefined;
  const view = () => frozen ?? api.objects;
  const store = <T>(kind: string): Store<T> => ({
    get: (ns, name) => view().get(MemoryApi.id(kind, ns, name)) as T | undefined,
    list: (ns) =>
      [...view().values()].filter(
        (o) => o.kind === kind && (ns === undefined || o.metadata?.namespace === ns),
      ) as T[],
  });
  return {
    networks: store('PeerNetwork'),
    pods: store('Pod'),
    secrets: store('Secret'),
    configMaps: store('ConfigMap'),
    services: store('Service'),
    pdbs: store('PodDisruptionBudget'),
    networkPolicies: store('NetworkPolicy'),
    claims: store('PersistentVolumeClaim'),
    lag: (on) => (frozen = on ? new Map(api.objects) : undefined),
  };
}

/** Peers that answer what the test says; `hang` ones answer only when the call is cut off. */
class ScriptedPeers implements PeerStatusClient {
  readonly answers = new Map<string, PeerLive>();
  readonly hang = new Set<string>();
  readonly drained: string[] = [];
  /** calls to hanging peers in flight */
  hung = 0;
  async status(ip: string, _port: number, opts?: PeerCallOptions) {
    if (this.hang.has(ip)) {
      this.hung++;
      await new Promise<void>((resolve) =>
        opts?.signal?.addEventListener('abort', () => resolve()),
      );
      this.hung--;
      return undefined;
    }
    return this.answers.get(ip);
  }
  async drain(ip: string): Promise<number> {
    await tick();
    this.drained.push(ip);
    return 0;
  }
}

interface Harness {
  api: MemoryApi;
  cache: ReturnType<typeof cacheOf>;
  clock: ManualClock;
  peers: ScriptedPeers;
  events: Array<{ type: string; reason: string; message: string }>;
  reconcile(): Promise<ReconcileResult>;
  network(): PeerNetworkObject;
  /** what a kubelet would do: every pod of the network scheduled, running and ready */
  runPods(answer?: PeerLive): void;
  pods(): Map<string, V1Pod>;
}

function harness(spec: unknown, name = 'demo'): Harness {
  const api = new MemoryApi();
  api.objects.set(MemoryApi.id('PeerNetwork', NS, name), {
    apiVersion: 'peernet.io/v1alpha1',
    kind: 'PeerNetwork',
    metadata: { name, namespace: NS, uid: 'net-uid', generation: 1, resourceVersion: '1' },
    spec,
  } as KubeObject);
  const cache = cacheOf(api);
  const clock = createManualClock(Date.parse('2026-12-06T00:00:00Z'));
  const peers = new ScriptedPeers();
  const events: Harness['events'] = [];
  const recorder: EventRecorder = {
    emit: (_t, type, reason, message) => void events.push({ type, reason, message }),
    flush: async () => {},
  };
  const reconciler = createReconciler(
    { kube: api, cache, clock, logger: createLogger('silent'), peers, events: recorder },
    { peerImage: 'peernet/peer:test', progressingRequeueMs: 5000, readyResyncMs: 60_000 },
  );
  const pods = () => api.all<V1Pod>('Pod');
  return {
    api,
    cache,
    clock,
    peers,
    events,
    reconcile: () => reconciler.reconcile(`${NS}/${name}`),
    network: () => api.objects.get(MemoryApi.id('PeerNetwork', NS, name)) as PeerNetworkObject,
    pods,
    runPods(answer = { routingTable: 2, connections: 2 }) {
      let i = 0;
      for (const pod of pods().values()) {
        const ip = `10.0.0.${++i}`;
        pod.spec = { ...pod.spec!, nodeName: `node-${i}` };
        pod.status = {
          phase: 'Running',
          podIP: ip,
          conditions: [{ type: 'Ready', status: 'True' }],
          containerStatuses: pod.spec.containers.map((c) => ({
            name: c.name,
            ready: true,
            image: c.image ?? '',
            imageID: '',
            restartCount: 0,
            started: true,
            state: { running: {} },
          })),
        };
        peers.answers.set(ip, answer);
      }
    },
  };
}

const spread = (replicas: number) => ({ replicas, topology: { mode: 'spread' } });

describe('reconcile: a new network', () => {
  it('makes keys, Service, bootstrap ConfigMap, API token and pods, all owned; Pending until the pods run', async () => {
    const h = harness(spread(3));
    const r = await h.reconcile();
    expect(r).toEqual({ requeueAfterMs: 5000 });
    const owned = (o: KubeObject | undefined) =>
      o?.metadata?.ownerReferences?.some((ref) => ref.uid === 'net-uid' && ref.controller);
    const secrets = h.api.all<KubeObject & { data?: Record<string, string> }>('Secret');
    expect(Object.keys(secrets.get(keysSecretName('demo'))?.data ?? {}).sort()).toEqual([
      'demo-0.key',
      'demo-1.key',
      'demo-2.key',
    ]);
    expect(owned(secrets.get(keysSecretName('demo')))).toBe(true);
    expect(owned(h.api.all('Service').get(serviceName('demo')))).toBe(true);
    expect(owned(h.api.all('ConfigMap').get(bootstrapConfigMapName('demo')))).toBe(true);
    expect([...h.pods().keys()].sort()).toEqual(['demo-0', 'demo-1', 'demo-2']);
    expect([...h.pods().values()].every(owned)).toBe(true);
    const status = h.network().status!;
    expect(status.phase).toBe('Pending');
    expect(status.readyText).toBe('0/3');
    expect(new Set(status.peers!.map((p) => p.peerId)).size).toBe(3);
    expect(h.events.map((e) => e.reason)).toEqual(
      expect.arrayContaining(['CreatedKeys', 'CreatedPods', 'CreatedApiToken']),
    );
  });

  it('is Ready once every peer runs and answers, with their tables in the status; then rests for the resync', async () => {
    const h = harness(spread(3));
    await h.reconcile();
    h.runPods({ routingTable: 2, connections: 2 });
    await h.clock.advance(2000); // past the status write interval
    const r = await h.reconcile();
    expect(r).toEqual({ requeueAfterMs: 60_000 });
    const status = h.network().status!;
    expect(status.phase).toBe('Ready');
    expect(status.peers!.map((p) => p.routingTable)).toEqual([2, 2, 2]);
    expect(h.events.filter((e) => e.reason === 'Ready')).toHaveLength(1);
  });

  it('a Ready network whose peers report empty tables is looked at again at the progressing pace', async () => {
    const h = harness(spread(3));
    await h.reconcile();
    h.runPods({ routingTable: 0, connections: 1 });
    await h.clock.advance(2000);
    const r = await h.reconcile();
    expect(h.network().status!.phase).toBe('Ready');
    expect(r).toEqual({ requeueAfterMs: 5000 });
  });

  it('writes nothing when nothing changed', async () => {
    const h = harness(spread(2));
    await h.reconcile();
    h.runPods();
    await h.clock.advance(2000);
    await h.reconcile();
    const before = h.api.writes.length;
    await h.clock.advance(20_000); // past the live answers' TTL: the peers are asked again
    await h.reconcile();
    expect(h.api.writes.slice(before)).toEqual([]);
  });

  it('does not create a pod twice while the cache has not seen it', async () => {
    const h = harness(spread(3));
    h.cache.lag(true);
    await h.reconcile();
    // the keys Secret is not in the cache either: retried later, as the queue does with a throw
    await expect(h.reconcile()).rejects.toThrow(StaleCacheError);
    expect(h.api.writes.filter((w) => w.startsWith('create Pod'))).toHaveLength(3);
  });
});

describe('reconcile: what stops it', () => {
  it('an invalid spec: Failed with InvalidSpec naming the field, nothing made', async () => {
    const h = harness({ replicas: -1, topology: { mode: 'spread' } });
    expect(await h.reconcile()).toEqual({});
    const status = h.network().status!;
    expect(status.phase).toBe('Failed');
    const ready = status.conditions!.find((c) => c.type === 'Ready')!;
    expect(ready.reason).toBe('InvalidSpec');
    expect(ready.message).toMatch(/^spec\.replicas/);
    expect(h.pods().size).toBe(0);
    expect(h.api.all('Secret').size).toBe(0);
  });

  it("a Secret by the keys' name that is someone else's: a typed failure, no pod left behind", async () => {
    const h = harness(spread(2));
    h.api.objects.set(MemoryApi.id('Secret', NS, keysSecretName('demo')), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: keysSecretName('demo'), namespace: NS, uid: 'theirs' },
    });
    const r = await h.reconcile();
    expect(r.failed?.reason).toBe('ForeignObject');
    expect(r.backoff).toBe('ForeignObject');
    expect(r.failed?.message).toMatch(/demo-keys .*not owned by this PeerNetwork/);
    expect(h.pods().size).toBe(0);
    expect(h.network().status!.phase).toBe('Failed');
    expect(h.events.some((e) => e.type === 'Warning' && e.reason === 'ForeignObject')).toBe(true);
  });

  it('a pod the API server refuses for good (422): a typed failure with its message', async () => {
    const h = harness(spread(2));
    h.api.refuse = (verb, obj) =>
      verb === 'create' && obj.kind === 'Pod'
        ? new KubeApiError(
            'Pod "demo-0" is invalid: spec.containers[0].image: Required',
            422,
            'Invalid',
          )
        : undefined;
    const r = await h.reconcile();
    expect(r.failed?.reason).toBe('Refused');
    expect(r.failed?.message).toContain('spec.containers[0].image');
    expect(h.events.some((e) => e.reason === 'CreatePodFailed')).toBe(true);
  });

  it('a transient API error is thrown (the queue retries it), not reported as a failure', async () => {
    const h = harness(spread(2));
    h.api.refuse = (verb) =>
      verb === 'apply'
        ? new KubeApiError('etcdserver: request timed out', 500, 'InternalError')
        : undefined;
    await expect(h.reconcile()).rejects.toThrow('etcdserver: request timed out');
  });

  it('the deadline: peers that never answer are named, once, and the result asks for backoff', async () => {
    const h = harness(spread(2));
    await h.reconcile();
    h.runPods();
    h.peers.hang.add('10.0.0.2');
    await h.clock.advance(2000);
    const pending = h.reconcile();
    while (h.peers.hung === 0) await settle(); // the reconcile waits on the silent peer
    await h.clock.advance(10_000); // the default reconcile deadline
    const r = await pending;
    expect(r.backoff).toBe('DeadlineExceeded');
    expect(r.deadline).toEqual({ unanswered: ['demo-1'] });
    const notes = h.events.filter((e) => e.reason === 'DeadlineExceeded');
    expect(notes).toHaveLength(1);
    expect(notes[0]!.message).toContain('demo-1');
    // the same stop again: no second event
    await h.clock.advance(20_000);
    const again = h.reconcile();
    while (h.peers.hung === 0) await settle();
    await h.clock.advance(10_000);
    await again;
    expect(h.events.filter((e) => e.reason === 'DeadlineExceeded')).toHaveLength(1);
  });
});

describe('reconcile: scaling down', () => {
  it('drains the peers of the pod that goes, then deletes it', async () => {
    const h = harness(spread(3));
    await h.reconcile();
    h.runPods();
    await h.clock.advance(2000);
    await h.reconcile();
    const net = h.network();
    net.spec = spread(2);
    net.metadata.generation = 2;
    await h.clock.advance(2000);
    await h.reconcile();
    expect(h.peers.drained).toEqual(['10.0.0.3']);
    expect([...h.pods().keys()].sort()).toEqual(['demo-0', 'demo-1']);
    expect(h.events.some((e) => e.reason === 'DeletedPodScaleDown')).toBe(true);
  });
});

describe('reconcile: storage', () => {
  const durable = (replicas: number, retention?: object) => ({
    ...spread(replicas),
    storage: { size: '1Gi', ...(retention ? { retention } : {}) },
  });
  type Claim = KubeObject & { spec?: { resources?: { requests?: Record<string, string> } } };
  const claimOf = (h: Harness, name: string) => h.api.all<Claim>('PersistentVolumeClaim').get(name);

  it('a claim per pod, made with the pods (the scheduler waits for it); retained by default (no owner)', async () => {
    const h = harness(durable(2));
    await h.reconcile();
    const claims = h.api.all<Claim>('PersistentVolumeClaim');
    expect([...claims.keys()].sort()).toEqual(['demo-0-data', 'demo-1-data']);
    expect(claims.get('demo-0-data')?.metadata?.ownerReferences).toBeUndefined();
    expect(claims.get('demo-0-data')?.spec?.resources?.requests).toEqual({ storage: '1Gi' });
    expect(h.pods().size).toBe(2);
    expect(h.events.some((e) => e.reason === 'CreatedClaims')).toBe(true);
  });

  it("a claim by a pod's claim name that is not this network's: a typed failure, no pod", async () => {
    const h = harness(durable(2));
    h.api.objects.set(MemoryApi.id('PersistentVolumeClaim', NS, 'demo-1-data'), {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'demo-1-data', namespace: NS, uid: 'theirs' },
    });
    const r = await h.reconcile();
    expect(r.failed?.reason).toBe('ForeignObject');
    expect(r.failed?.message).toMatch(/PersistentVolumeClaim demo-1-data/);
    expect(h.pods().size).toBe(0);
  });

  it('whenDeleted Delete owns the claims, a retained claim of an earlier network included', async () => {
    const earlier = harness(durable(1));
    await earlier.reconcile();
    const retained = claimOf(earlier, 'demo-0-data')!;
    const h = harness(durable(1, { whenDeleted: 'Delete' }));
    h.api.objects.set(MemoryApi.id('PersistentVolumeClaim', NS, 'demo-0-data'), retained);
    await h.reconcile();
    expect(claimOf(h, 'demo-0-data')?.metadata?.uid).toBe(retained.metadata?.uid);
    expect(claimOf(h, 'demo-0-data')?.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'PeerNetwork', uid: 'net-uid' }),
    ]);
    expect(h.pods().size).toBe(1);
  });

  it.each([
    ['Retain', true],
    ['Delete', false],
  ])(
    'scaling down with whenScaled %s: the claim of the pod gone kept = %s',
    async (whenScaled, kept) => {
      const h = harness(durable(3, { whenScaled }));
      await h.reconcile();
      h.runPods();
      await h.clock.advance(2000);
      await h.reconcile();
      const net = h.network();
      net.spec = durable(2, { whenScaled });
      net.metadata.generation = 2;
      await h.clock.advance(2000);
      await h.reconcile(); // drains and deletes demo-2
      expect(h.pods().has('demo-2')).toBe(false);
      await h.clock.advance(2000);
      await h.reconcile(); // the pod is gone: its claim follows the policy
      expect(claimOf(h, 'demo-2-data') !== undefined).toBe(kept);
      expect(claimOf(h, 'demo-1-data')).toBeDefined();
    },
  );
});

describe('reconcile: spec.expose loadBalancer', () => {
  type Svc = KubeObject & { spec?: { type?: string }; status?: unknown };
  const ingress = (h: Harness, svc: string, ip: string) => {
    const o = h.api.objects.get(MemoryApi.id('Service', NS, svc)) as Svc;
    o.status = { loadBalancer: { ingress: [{ ip }] } };
  };
  const announce = (pod: V1Pod | undefined) => {
    const args = pod?.spec?.containers[0]?.args ?? [];
    return args[args.indexOf('--announce') + 1];
  };

  it('makes a pod once its Service has an address, and its peer announces that address', async () => {
    const h = harness({ ...spread(2), expose: { type: 'loadBalancer' } });
    await h.reconcile();
    const svcs = h.api.all<Svc>('Service');
    expect(svcs.get('demo-0-p2p')?.spec?.type).toBe('LoadBalancer');
    expect(svcs.get('demo-1-p2p')?.spec?.type).toBe('LoadBalancer');
    expect(h.pods().size).toBe(0);
    expect(h.network().status?.phase).toBe('Pending');
    expect(h.network().status?.conditions?.[0]?.message).toMatch(
      /waiting for the load balancer address of Service demo-0-p2p and 1 more/,
    );

    ingress(h, 'demo-0-p2p', '192.0.2.10');
    await h.reconcile();
    expect([...h.pods().keys()]).toEqual(['demo-0']);
    expect(announce(h.pods().get('demo-0'))).toBe('/ip4/192.0.2.10/tcp/4001');

    ingress(h, 'demo-1-p2p', '192.0.2.11');
    await h.reconcile();
    expect(announce(h.pods().get('demo-1'))).toBe('/ip4/192.0.2.11/tcp/4001');
    h.runPods();
    await h.reconcile();
    const peers = h.network().status?.peers ?? [];
    expect(peers.map((p) => p.externalAddrs?.[0]?.replace(/\/p2p\/.*$/, ''))).toEqual([
      '/ip4/192.0.2.10/tcp/4001',
      '/ip4/192.0.2.11/tcp/4001',
    ]);
    expect(peers[0]?.externalAddrs?.[0]).toBe(`/ip4/192.0.2.10/tcp/4001/p2p/${peers[0]?.peerId}`);
  });

  it('a new address rolls the pod to announce it', async () => {
    const h = harness({ ...spread(1), expose: { type: 'loadBalancer' } });
    await h.reconcile();
    ingress(h, 'demo-0-p2p', '192.0.2.10');
    await h.reconcile();
    h.runPods();
    const before = h.pods().get('demo-0')?.metadata?.uid;
    ingress(h, 'demo-0-p2p', '192.0.2.99');
    for (let i = 0; i < 3 && announce(h.pods().get('demo-0')) !== '/ip4/192.0.2.99/tcp/4001'; i++)
      await h.reconcile();
    expect(announce(h.pods().get('demo-0'))).toBe('/ip4/192.0.2.99/tcp/4001');
    expect(h.pods().get('demo-0')?.metadata?.uid).not.toBe(before);
  });
});
