import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { hostname as osHostname, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  ListWatch,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type KubernetesObject,
  type V1ConfigMap,
  type V1Node,
  type V1Pod,
  type V1Secret,
  type V1Service,
} from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { LocalNodeConfigError } from './errors.js';
import {
  createLoopbackNetwork,
  createPodNetwork,
  parseCidr16,
  type NodeNetwork,
  type PodNetwork,
} from './net.js';
import { PodWorker } from './pod.js';
import { microTime, rfc3339 } from './podstatus.js';
import type { HostsEntry } from './volumes.js';

export const NODE_KIND_LABEL = 'peernet.io/node-kind';

export interface LocalNodesOptions {
  /** The cluster to join: a KubeConfig or the path of a kubeconfig file. */
  kubeconfig: KubeConfig | string;
  /** How many nodes. @default 3 */
  nodes?: number;
  /** Node names are `<namePrefix><n>`, n from 1. @default 'local-' */
  namePrefix?: string;
  /**
   * A /16 for pod addresses; node n gets `<a>.<b>.<n>.0/24`. 'auto' takes the first of
   * 10.213.0.0/16 .. 10.239.0.0/16 that no other live runtime on this machine holds. @default 'auto'
   */
  podCidr?: string;
  /**
   * 'namespaces': a network and mount namespace per pod (needs root). 'loopback': the fallback
   * without root, one loopback address per pod, no mDNS, no runAsUser. 'auto': namespaces when
   * root, else loopback with a warning. @default 'auto'
   */
  network?: 'auto' | 'namespaces' | 'loopback';
  /** Extra labels on every node (tests use one to pin their networks to their own nodes). */
  nodeLabels?: Record<string, string>;
  /** Pod directories (`pods/`) and container logs (`logs/`). @default '.cluster/localnode' */
  stateDir?: string;
  /** Zone label per node index (1-based); default one zone per node, `local-zone-<n>`. */
  zoneFor?: (index: number) => string;
  /** The peer program run for the peer image. @default dist/peer/cli/peernet-peer.js of this package */
  peerProgram?: string;
  /** The Node.js binary for the peer. @default process.execPath */
  nodeBinary?: string;
  /** Crash-loop backoff. @default { initialMs: 1000, maxMs: 30000 } */
  restartBackoff?: { initialMs: number; maxMs: number };
  /** Delete the Node and Lease objects on stop, and the pods that ran on them. @default true */
  deleteNodesOnStop?: boolean;
  /** Upper bound on each pod's grace period when the runtime itself stops. @default 10 */
  stopGraceSeconds?: number;
  logger?: Logger;
}

export interface LocalNodes {
  /** How pods are isolated: namespaces, or the loopback fallback. */
  readonly mode: 'namespaces' | 'loopback';
  /** Names of the nodes that are up. */
  readonly nodes: readonly string[];
  /** The address of a pod this runtime runs, once its sandbox exists. */
  podIp(namespace: string, name: string): string | undefined;
  /** What runs for a pod here: its address, network namespace and container process ids. */
  pod(namespace: string, name: string): RunningPod | undefined;
  /** Takes a node away for good: stops its pods, deletes its pods and its Node object. */
  removeNode(name: string): Promise<void>;
  /** Stops every pod, removes namespaces, links and routes, and (by default) the Node objects. */
  stop(): Promise<void>;
}

export interface RunningPod {
  node: string;
  ip: string | undefined;
  netns: string | undefined;
  pids: Record<string, number>;
}

interface NodeState {
  name: string;
  index: number;
  net: NodeNetwork;
  pods: ListWatch<V1Pod>;
  workers: Map<string, PodWorker>;
  gone: boolean;
}

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function statusCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown };
  const c = e.code ?? e.statusCode;
  return typeof c === 'number' ? c : undefined;
}

/**
 * Starts the local node runtime: a kubelet stand-in for development and tests that registers
 * nodes `local-<n>` and runs the pods the scheduler binds to them as processes of this
 * repository's peer program, each pod in a network namespace of its own. Needs root.
 */
export async function startLocalNodes(options: LocalNodesOptions): Promise<LocalNodes> {
  const log = (options.logger ?? pino({ name: 'peernet:localnode' })).child({
    component: 'peernet:localnode',
  });
  const root = process.getuid?.() === 0;
  const mode =
    options.network === undefined || options.network === 'auto'
      ? root
        ? 'namespaces'
        : 'loopback'
      : options.network;
  if (mode === 'namespaces' && !root) {
    throw new LocalNodeConfigError(
      'network namespaces need root: run as root (sudo), or use network: loopback (one loopback address per pod, no mDNS)',
    );
  }
  if (mode === 'loopback') {
    log.warn(
      'LOOPBACK FALLBACK: no network or mount namespaces (not root); each pod gets a 127.x address, peers bind to it, mount paths in args are rewritten to pod directories, runAsUser is ignored and mDNS between containers does not work',
    );
  }
  const kc =
    typeof options.kubeconfig === 'string'
      ? loadKubeConfig(options.kubeconfig)
      : options.kubeconfig;
  const core = kc.makeApiClient(CoreV1Api);
  const coordination = kc.makeApiClient(CoordinationV1Api);
  const watch = new Watch(kc);
  const count = options.nodes ?? 3;
  const prefix = options.namePrefix ?? 'local-';
  const stateDir = options.stateDir ?? '.cluster/localnode';
  const logsDir = `${stateDir}/logs`;
  const peerProgram =
    options.peerProgram ?? fileURLToPath(new URL('../peer/cli/peernet-peer.js', import.meta.url));
  const peerArgv = [options.nodeBinary ?? process.execPath, peerProgram];
  const backoff = options.restartBackoff ?? { initialMs: 1000, maxMs: 30000 };
  const zoneFor = options.zoneFor ?? ((n: number) => `local-zone-${n}`);
  const range = await claimRange(options.podCidr ?? 'auto');
  const net: PodNetwork = (mode === 'loopback' ? createLoopbackNetwork : createPodNetwork)({
    cidr: range.cidr,
    logger: log,
  });
  const nodes = new Map<string, NodeState>();
  const timers: NodeJS.Timeout[] = [];
  const informers: Array<ListWatch<KubernetesObject>> = [];
  let stopping = false;

  log.warn(
    'peernet local node runtime: a kubelet STAND-IN for development and tests only; it runs peer pods as local processes in network namespaces, not containers',
  );
  await mkdir(logsDir, { recursive: true });
  try {
    await net.start();
  } catch (err) {
    range.release();
    throw err;
  }

  // --- watched objects the pods reference -------------------------------------------------
  function informer<T extends KubernetesObject>(
    path: string,
    list: () => Promise<{ items: T[] }>,
    opts: { label?: string; field?: string } = {},
  ): ListWatch<T> {
    const lw = new ListWatch<T>(path, watch, list, false, opts.label, opts.field);
    lw.on('error', (err: unknown) => {
      if (stopping) return;
      log.warn({ path, err: String(err) }, 'watch failed; restarting');
      const t = setTimeout(() => void lw.start().catch(() => undefined), 1000);
      timers.push(t);
    });
    informers.push(lw);
    return lw;
  }
  const secrets = informer<V1Secret>('/api/v1/secrets', () => core.listSecretForAllNamespaces());
  const configMaps = informer<V1ConfigMap>('/api/v1/configmaps', () =>
    core.listConfigMapForAllNamespaces(),
  );
  const services = informer<V1Service>('/api/v1/services', () =>
    core.listServiceForAllNamespaces(),
  );
  const lookup = {
    secret: (ns: string, name: string) => secrets.get(name, ns),
    configMap: (ns: string, name: string) => configMaps.get(name, ns),
  };

  function allWorkers(): PodWorker[] {
    return [...nodes.values()].flatMap((n) => [...n.workers.values()]);
  }

  /** The headless Service names of every pod this runtime runs in the namespace. */
  function hostsFor(pod: V1Pod): HostsEntry[] {
    const ns = pod.metadata?.namespace ?? '';
    const out: HostsEntry[] = [];
    const headless = services
      .list(ns)
      .filter((s) => s.spec?.clusterIP === 'None' && s.spec.selector !== undefined);
    for (const w of allWorkers()) {
      const p = w.current;
      const ip = w.ip;
      if (ip === undefined || w.done || p.metadata?.namespace !== ns) continue;
      const labels = p.metadata.labels ?? {};
      const host = p.spec?.hostname ?? p.metadata.name ?? '';
      const names = headless
        .filter((s) => Object.entries(s.spec?.selector ?? {}).every(([k, v]) => labels[k] === v))
        .map((s) => `${host}.${s.metadata?.name ?? ''}.${ns}.svc.cluster.local`);
      if (names.length > 0) out.push({ ip, names });
    }
    return out;
  }

  let hostsTimer: NodeJS.Timeout | undefined;
  function refreshAllHosts(): void {
    if (hostsTimer !== undefined || stopping) return;
    hostsTimer = setTimeout(() => {
      hostsTimer = undefined;
      for (const w of allWorkers()) void w.refreshHosts();
    }, 100);
  }

  // --- pod status writes: coalesced, skipped when nothing changed ---------------------------
  const lastWritten = new Map<string, string>();
  const pending = new Map<string, { pod: V1Pod; status: Record<string, unknown> }>();
  let flushTimer: NodeJS.Timeout | undefined;
  function reportStatus(pod: V1Pod, status: Record<string, unknown>): void {
    pending.set(pod.metadata?.uid ?? '', { pod, status });
    flushTimer ??= setTimeout(() => void flush(), 50);
  }
  async function flush(): Promise<void> {
    const batch = [...pending.values()];
    pending.clear();
    for (const { pod, status } of batch) {
      const uid = pod.metadata?.uid ?? '';
      const body = JSON.stringify(status);
      if (lastWritten.get(uid) === body) continue;
      try {
        await core.patchNamespacedPodStatus(
          {
            name: pod.metadata?.name ?? '',
            namespace: pod.metadata?.namespace ?? '',
            body: { metadata: { uid }, status },
          },
          merge,
        );
        lastWritten.set(uid, body);
      } catch (err) {
        if (statusCode(err) !== 404 && statusCode(err) !== 409) {
          log.warn(
            { pod: pod.metadata?.name, err: String(err) },
            'pod status write failed; will retry',
          );
          if (!pending.has(uid)) pending.set(uid, { pod, status });
        }
      }
    }
    flushTimer = undefined;
    if (pending.size > 0 && !stopping) flushTimer = setTimeout(() => void flush(), 1000);
    refreshAllHosts();
  }

  async function deletePod(pod: V1Pod): Promise<void> {
    lastWritten.delete(pod.metadata?.uid ?? '');
    try {
      await core.deleteNamespacedPod({
        name: pod.metadata?.name ?? '',
        namespace: pod.metadata?.namespace ?? '',
        gracePeriodSeconds: 0,
        body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid } },
      });
    } catch (err) {
      if (statusCode(err) !== 404 && statusCode(err) !== 409) throw err;
    }
  }

  const tokens = new Map<string, { token: string; until: number }>();
  async function requestToken(pod: V1Pod, expirationSeconds: number): Promise<string> {
    const ns = pod.metadata?.namespace ?? 'default';
    const sa = pod.spec?.serviceAccountName ?? 'default';
    const uid = pod.metadata?.uid ?? '';
    const have = tokens.get(uid);
    if (have !== undefined && have.until > Date.now()) return have.token;
    try {
      const tr = await core.createNamespacedServiceAccountToken({
        name: sa,
        namespace: ns,
        body: {
          spec: {
            audiences: [],
            expirationSeconds: Math.max(expirationSeconds, 600),
            boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name ?? '', uid },
          },
        },
      });
      const token = tr.status?.token ?? '';
      tokens.set(uid, { token, until: Date.now() + (Math.max(expirationSeconds, 600) * 1000) / 2 });
      return token;
    } catch (err) {
      log.warn(
        { pod: pod.metadata?.name, err: String(err) },
        'service account token request failed; projected token left empty',
      );
      return '';
    }
  }

  // --- nodes ---------------------------------------------------------------------------------
  function nodeObject(name: string, index: number, n: NodeNetwork): V1Node {
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        labels: {
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': process.arch === 'x64' ? 'amd64' : process.arch,
          'topology.kubernetes.io/zone': zoneFor(index),
          ...options.nodeLabels,
          [NODE_KIND_LABEL]: 'local',
        },
        annotations: { 'peernet.io/local-node-runtime': `pid ${process.pid} on ${osHostname()}` },
      },
      spec: { podCIDR: n.podCidr, podCIDRs: [n.podCidr] },
    };
  }

  function nodeStatus(n: NodeNetwork, name: string): Record<string, unknown> {
    const now = rfc3339(new Date());
    const cond = (type: string, status: string, reason: string, message: string) => ({
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: now,
      lastTransitionTime: startedAt,
    });
    const resources = { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '20Gi' };
    return {
      capacity: resources,
      allocatable: resources,
      conditions: [
        cond('Ready', 'True', 'KubeletReady', 'peernet local node runtime is posting ready status'),
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'ok'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'ok'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'ok'),
      ],
      addresses: [
        { type: 'InternalIP', address: n.gatewayIp },
        { type: 'Hostname', address: name },
      ],
      nodeInfo: {
        architecture: process.arch === 'x64' ? 'amd64' : process.arch,
        bootID: '',
        containerRuntimeVersion: 'peernet-localnode://0.1.0',
        kernelVersion: release(),
        kubeProxyVersion: '',
        kubeletVersion: 'v0.0.0-peernet-localnode',
        machineID: '',
        operatingSystem: 'linux',
        osImage: 'peernet local node runtime (development only)',
        systemUUID: '',
      },
    };
  }
  const startedAt = rfc3339(new Date());

  async function registerNode(name: string, index: number, n: NodeNetwork): Promise<void> {
    try {
      await core.createNode({ body: nodeObject(name, index, n) });
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
      const obj = nodeObject(name, index, n);
      await core.patchNode(
        {
          name,
          body: {
            metadata: { labels: obj.metadata?.labels, annotations: obj.metadata?.annotations },
          },
        },
        merge,
      );
    }
    await core.patchNodeStatus({ name, body: { status: nodeStatus(n, name) } }, merge);
    await renewLease(name);
  }

  async function renewLease(name: string): Promise<void> {
    const spec = {
      holderIdentity: name,
      leaseDurationSeconds: 40,
      renewTime: microTime(new Date()),
    };
    try {
      await coordination.patchNamespacedLease(
        { name, namespace: 'kube-node-lease', body: { spec } },
        merge,
      );
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      const owner = await core.readNode({ name });
      await coordination.createNamespacedLease({
        namespace: 'kube-node-lease',
        body: {
          metadata: {
            name,
            namespace: 'kube-node-lease',
            ownerReferences: [
              { apiVersion: 'v1', kind: 'Node', name, uid: owner.metadata?.uid ?? '' },
            ],
          },
          spec: spec as never,
        },
      });
    }
  }

  function podWatcher(state: NodeState): void {
    const onPod = (pod: V1Pod): void => {
      const uid = pod.metadata?.uid ?? '';
      if (state.gone || stopping) return;
      let w = state.workers.get(uid);
      if (w === undefined) {
        if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
        if (pod.metadata?.deletionTimestamp !== undefined) {
          // A pod we never ran that is being deleted: nothing to stop, just let it go.
          void deletePod(pod).catch(() => undefined);
          return;
        }
        w = new PodWorker(pod, {
          net,
          node: state.net,
          stateDir,
          logsDir,
          peerArgv,
          lookup,
          hostsFor,
          reportStatus,
          deletePod,
          requestToken,
          restartBackoff: backoff,
          logger: log.child({ node: state.name }),
        });
        state.workers.set(uid, w);
      }
      const worker = w;
      void worker.sync(pod).then(() => {
        if (worker.done) state.workers.delete(uid);
        refreshAllHosts();
      });
    };
    state.pods.on('add', onPod);
    state.pods.on('update', onPod);
    state.pods.on('delete', (pod: V1Pod) => {
      const uid = pod.metadata?.uid ?? '';
      const w = state.workers.get(uid);
      if (w === undefined) return;
      // Deleted without us (force delete, or namespace gone): stop it now.
      void w
        .terminate(Math.min(pod.spec?.terminationGracePeriodSeconds ?? 2, 2), false)
        .then(() => {
          state.workers.delete(uid);
          refreshAllHosts();
        });
    });
  }

  async function stopNodePods(
    state: NodeState,
    graceCap: number,
    deleteFromApi: boolean,
  ): Promise<void> {
    await Promise.all(
      [...state.workers.values()].map((w) =>
        w.terminate(
          Math.min(w.current.spec?.terminationGracePeriodSeconds ?? 30, graceCap),
          deleteFromApi,
        ),
      ),
    );
    state.workers.clear();
  }

  async function takeNodeAway(state: NodeState, deleteNodeObject: boolean): Promise<void> {
    if (state.gone) return;
    state.gone = true;
    log.info({ node: state.name }, 'node going away: stopping its pods');
    await state.pods.stop();
    // The node is gone for good: its pods are deleted right away rather than waiting for the
    // pod garbage collector's orphan sweep, so their controllers recreate them elsewhere.
    await stopNodePods(state, options.stopGraceSeconds ?? 10, true);
    if (deleteNodeObject) {
      await core.deleteNode({ name: state.name }).catch(() => undefined);
    }
    await coordination
      .deleteNamespacedLease({ name: state.name, namespace: 'kube-node-lease' })
      .catch(() => undefined);
    await net.removeNode(state.net.index);
    nodes.delete(state.name);
  }

  for (const inf of [secrets, configMaps, services]) await inf.start();
  const resyncPods = (): void => {
    for (const state of nodes.values())
      for (const w of state.workers.values()) void w.sync(w.current);
  };
  secrets.on('update', resyncPods);
  secrets.on('add', resyncPods);
  configMaps.on('update', resyncPods);
  configMaps.on('add', resyncPods);
  services.on('add', refreshAllHosts);
  services.on('update', refreshAllHosts);
  services.on('delete', refreshAllHosts);

  try {
    for (let i = 1; i <= count; i++) {
      const name = `${prefix}${i}`;
      const n = await net.addNode(i);
      await registerNode(name, i, n);
      const field = `spec.nodeName=${name}`;
      const pods = informer<V1Pod>(
        '/api/v1/pods',
        () => core.listPodForAllNamespaces({ fieldSelector: field }),
        { field },
      );
      const state: NodeState = { name, index: i, net: n, pods, workers: new Map(), gone: false };
      nodes.set(name, state);
      podWatcher(state);
      await pods.start();
      log.info({ node: name, podCidr: n.podCidr, bridge: n.bridge }, 'local node registered');
    }
  } catch (err) {
    stopping = true;
    for (const inf of informers) await inf.stop();
    for (const s of nodes.values()) await core.deleteNode({ name: s.name }).catch(() => undefined);
    await net.stop();
    range.release();
    throw err;
  }

  const nodeWatch = informer<V1Node>(
    '/api/v1/nodes',
    () => core.listNode({ labelSelector: `${NODE_KIND_LABEL}=local` }),
    {
      label: `${NODE_KIND_LABEL}=local`,
    },
  );
  nodeWatch.on('delete', (node: V1Node) => {
    const state = nodes.get(node.metadata?.name ?? '');
    if (state !== undefined && !stopping) void takeNodeAway(state, false);
  });
  await nodeWatch.start();

  timers.push(
    setInterval(() => {
      for (const s of nodes.values()) {
        if (!s.gone)
          void renewLease(s.name).catch((err: unknown) =>
            log.warn({ node: s.name, err: String(err) }, 'lease renewal failed'),
          );
      }
    }, 10_000),
    setInterval(() => {
      for (const s of nodes.values()) {
        if (!s.gone) {
          void core
            .patchNodeStatus({ name: s.name, body: { status: nodeStatus(s.net, s.name) } }, merge)
            .catch((err: unknown) =>
              log.warn({ node: s.name, err: String(err) }, 'node status update failed'),
            );
        }
      }
    }, 30_000),
  );

  return {
    mode,
    get nodes() {
      return [...nodes.keys()];
    },
    pod(namespace, name) {
      for (const s of nodes.values()) {
        for (const w of s.workers.values()) {
          if (w.key === `${namespace}/${name}` && !w.done)
            return { node: s.name, ip: w.ip, netns: w.netns, pids: w.pids() };
        }
      }
      return undefined;
    },
    podIp(namespace, name) {
      for (const w of allWorkers()) if (w.key === `${namespace}/${name}` && !w.done) return w.ip;
      return undefined;
    },
    async removeNode(name) {
      const state = nodes.get(name);
      if (state === undefined) throw new LocalNodeConfigError(`no local node ${name}`);
      await takeNodeAway(state, true);
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      log.info('stopping the local node runtime');
      for (const t of timers) clearTimeout(t);
      if (hostsTimer !== undefined) clearTimeout(hostsTimer);
      if (flushTimer !== undefined) clearTimeout(flushTimer);
      for (const inf of informers) await inf.stop();
      const cap = options.stopGraceSeconds ?? 10;
      const deleteAll = options.deleteNodesOnStop ?? true;
      await Promise.all([...nodes.values()].map((s) => stopNodePods(s, cap, deleteAll)));
      if (options.deleteNodesOnStop ?? true) {
        for (const s of nodes.values()) {
          await core.deleteNode({ name: s.name }).catch(() => undefined);
          await coordination
            .deleteNamespacedLease({ name: s.name, namespace: 'kube-node-lease' })
            .catch(() => undefined);
        }
      }
      await net.stop();
      range.release();
      nodes.clear();
      log.info('local node runtime stopped; namespaces, links and routes removed');
    },
  };
}

export function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

const RANGE_DIR =
  process.getuid?.() === 0
    ? '/run/peernet-localnode'
    : join(tmpdir(), `peernet-localnode-${process.getuid?.() ?? 0}`);

/** Claims a pod range on this machine with a pid file, so two runtimes never share one. */
async function claimRange(wanted: string): Promise<{ cidr: string; release(): void }> {
  mkdirSync(RANGE_DIR, { recursive: true });
  const candidates =
    wanted === 'auto' ? Array.from({ length: 27 }, (_, i) => `10.${213 + i}.0.0/16`) : [wanted];
  for (const cidr of candidates) {
    const { b } = parseCidr16(cidr);
    const file = `${RANGE_DIR}/${b}.pid`;
    try {
      const holder = Number(readFileSync(file, 'utf8'));
      if (holder !== process.pid && isAlive(holder)) continue;
    } catch {
      // no holder
    }
    writeFileSync(file, String(process.pid));
    // Re-read: of two runtimes racing for the same range, the last writer wins it.
    await new Promise((r) => setTimeout(r, 20));
    if (Number(readFileSync(file, 'utf8')) !== process.pid) continue;
    return {
      cidr,
      release() {
        try {
          if (Number(readFileSync(file, 'utf8')) === process.pid) unlinkSync(file);
          // The folder goes too when no other runtime holds a range.
          if (readdirSync(RANGE_DIR).length === 0) rmdirSync(RANGE_DIR);
        } catch {
          // already gone
        }
      },
    };
  }
  throw new LocalNodeConfigError(`pod range ${wanted} is held by another live local node runtime`);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
