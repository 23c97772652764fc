// The local cluster: start (etcd, kube-apiserver, controller manager, scheduler, kwok, CoreDNS,
// real nodes), stop, and the state file through which another process stops it. Long: the
// start's steps share the cluster's paths, ports, certificates and tokens; what stands alone
// lives beside it (components.ts, process.ts, real-nodes/, images/).
import { spawn } from 'node:child_process';
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Node } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { binariesIn, ensureBinaries, type ClusterBinaries } from './binaries.js';
import {
  apiserverCertFile,
  auditPolicyYaml,
  clusterPaths,
  clusterUsers,
  componentCommands,
  componentNames,
  kubeconfigYaml,
  kwokConfigYaml,
  kwokStageFiles,
  schedulerConfigYaml,
  tokenFileContent,
  userKubeconfig,
  type ClusterPaths,
  type ClusterPorts,
  type ClusterUser,
  type ComponentName,
} from './components.js';
import { parseClusterOptions, type ClusterOptions, type ClusterOptionsInput } from './config.js';
import { ClusterConfigError, ClusterNotRunningError, ComponentStartError } from './errors.js';
import { probe, waitFor } from './health.js';
import { fakeNode, nodeKindLabel } from './nodes.js';
import { freePorts } from './ports.js';
import { isRunning, spawnDetached, stopProcess, tailFile } from './process.js';
import { createPki } from './pki.js';
import {
  claimSlot,
  deadServer,
  ownsSlot,
  realNodeUsers,
  setUpSlotNetwork,
  slotLayout,
  startCoreDns,
  startRealNodes,
  stopRealNode,
  teardownSlot,
  REAL_NODE_KIND,
  MAX_REAL_NODES,
  nodeLayout,
  teardownNode,
  type RealNodesContext,
  type SlotLayout,
} from './real-nodes/index.js';
import { ensurePauseImage } from './real-nodes/pause-image.js';
import {
  ensureVolumeHelperImage,
  provisionerCommand,
  storageObjects,
  writeProvisionerConfig,
} from './real-nodes/storage.js';
import {
  ensureLoadBalancerImage,
  lbControllerCommand,
  loadBalancerObjects,
} from './real-nodes/load-balancer.js';
import { ensureRuntimeBinaries, type RuntimeBinaries } from './runtime-binaries.js';
import { readState, writeState, type ClusterState, type RealNodeState } from './state.js';

export {
  ClusterBuildError,
  ClusterConfigError,
  ClusterNotRunningError,
  ComponentStartError,
} from './errors.js';
export { ensureBinaries, binariesIn, type ClusterBinaries } from './binaries.js';
export {
  componentNames,
  clusterUsers,
  type ComponentName,
  type ClusterUser,
  type ClusterPorts,
} from './components.js';
export type { ClusterOptionsInput } from './config.js';
export { kwokNodeAnnotation, nodeKindLabel } from './nodes.js';

export interface ComponentStatus {
  name: ComponentName;
  pid: number | undefined;
  running: boolean;
  logPath: string;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A running local control plane: etcd, kube-apiserver, controller manager, scheduler, kwok. */
export interface Cluster {
  readonly dir: string;
  /** Admin kubeconfig (`<dir>/kubeconfig`). */
  readonly kubeconfig: string;
  /** `https://127.0.0.1:<port>` */
  readonly server: string;
  readonly ports: ClusterPorts;
  readonly binaries: ClusterBinaries;
  /** Names of the fake kwok nodes this cluster created. */
  readonly nodes: readonly string[];
  /** A kubeconfig for one of the token users (each its own name in the audit log). */
  kubeconfigFor(user: ClusterUser): string;
  /** A client-node KubeConfig loaded from that user's kubeconfig. */
  kubeConfig(user?: ClusterUser): KubeConfig;
  /** Runs the matching kubectl with the admin kubeconfig; never throws on a non-zero exit. */
  kubectl(args: string[], options?: { input?: string; user?: ClusterUser }): Promise<KubectlResult>;
  /** Runs the matching helm with the admin kubeconfig; never throws on a non-zero exit. */
  helm(args: string[]): Promise<KubectlResult>;
  /**
   * Waits until the CustomResourceDefinitions (`<plural>.<group>`) are Established; throws after
   * `timeoutMs`. (`kubectl wait` fails at once on a CRD the API server has not given conditions.)
   */
  waitForCrds(names: readonly string[], timeoutMs?: number): Promise<void>;
  /** Creates more fake nodes (named after the existing ones) and waits until kwok has made them Ready. */
  addNodes(count: number): Promise<string[]>;
  status(): ComponentStatus[];
  /** Stops one server (SIGTERM, then SIGKILL after a grace), keeping its data. */
  stopComponent(name: ComponentName): Promise<void>;
  /** Starts one server again with the same command line and port, and waits until it is healthy. */
  startComponent(name: ComponentName): Promise<void>;
  /** Stops every server and removes the cluster folder (logs of a failed start are kept). */
  stop(options?: { keepLogs?: boolean }): Promise<void>;
  /** SIGKILLs every server and removes the real nodes' traces, synchronously (exit handlers). */
  killNow(): void;
  /** Names of the real nodes (kubelet + containerd), empty without them. */
  readonly realNodes: readonly string[];
  /** A real node's containerd socket (for `ctr`), by node name. */
  containerdSocket(node: string): string;
  /** Starts more real nodes (with extra labels) and waits until they are Ready. */
  addRealNodes(count: number, labels?: Record<string, string>): Promise<string[]>;
  /**
   * A real node dies as a machine does: all its processes killed, its network gone. The Node
   * object stays (NotReady after the grace period) until someone deletes it.
   */
  loseRealNode(name: string): void;
  /**
   * Real nodes die as machines do (as loseRealNode) and boot again: the same names, addresses
   * and zones, `labels` added as at their start. Their kubelets start with empty state, find
   * the pods bound to their node and start them anew. `whileDown` runs while they are down (to
   * restart the control plane too, say). Waits until the nodes are Ready.
   */
  restartRealNodes(
    names: readonly string[],
    options?: { labels?: Record<string, string>; whileDown?: () => Promise<void> },
  ): Promise<void>;
}

export interface StartClusterComponents {
  logger?: Logger;
  /** Human progress lines (the CLI prints them). */
  onProgress?: (line: string) => void;
}

/**
 * Builds (cached) and starts a local control plane in `options.dir`. Throws a
 * ComponentStartError naming the server and its log when one fails; everything started so far
 * is stopped again first.
 */
export async function startCluster(
  input: ClusterOptionsInput = {},
  components: StartClusterComponents = {},
): Promise<Cluster> {
  const options = parseClusterOptions(input);
  const log = (components.logger ?? pino({ level: 'silent' })).child({ name: 'peernet:cluster' });
  const progress = (line: string): void => {
    log.info(line);
    components.onProgress?.(line);
  };
  const paths = clusterPaths(options.dir);

  const existing = readState(paths.state);
  if (existing !== undefined) {
    if (liveComponents(existing).length === componentNames.length) {
      throw new ComponentStartError(
        `a cluster is already running in ${options.dir} (stop it with \`npm run cluster:down\`)`,
        'cluster',
        paths.state,
      );
    }
    progress(`removing a stale cluster in ${options.dir}`);
    await stopAll(existing);
  }
  rmSync(options.dir, { recursive: true, force: true });

  let bins: ClusterBinaries;
  if (options.binDir !== undefined) {
    bins = binariesIn(options.binDir);
  } else {
    progress('building or finding the control plane binaries (cluster/build-binaries.sh)');
    bins = await ensureBinaries({ onProgress: progress });
  }

  // Ports are chosen free, but another program may bind one before our server does: then
  // start again on fresh ports (twice at most).
  for (let attempt = 1; ; attempt++) {
    try {
      const cluster = await startOnce(options, paths, bins, progress);
      progress(`cluster ready: KUBECONFIG=${paths.kubeconfig}`);
      return cluster;
    } catch (err) {
      const portTaken =
        err instanceof ComponentStartError && /address already in use/.test(err.message);
      if (!portTaken || attempt >= 3) throw err;
      progress(`${err.component}: its port was taken meanwhile; starting again on other ports`);
      rmSync(options.dir, { recursive: true, force: true });
    }
  }
}

// Long: the control plane's servers start in dependency order, each waiting for the one before.
async function startOnce(
  options: ClusterOptions,
  paths: ClusterPaths,
  bins: ClusterBinaries,
  progress: (line: string) => void,
): Promise<LocalCluster> {
  for (const d of [
    paths.dir,
    paths.pki,
    paths.certDir,
    paths.logs,
    paths.config,
    paths.kubeconfigs,
    paths.bin,
  ]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
  }
  linkBinaries(bins, paths);

  // Real nodes need an address pods can reach: a slot's host bridge (claimed before anything
  // listens on it, and recorded in the state so a failed start or the next start removes it).
  let slot: SlotLayout | undefined;
  if (options.realNodes > 0) {
    slot = claimSlot(options.dir, (ownerDir) => ownerAlive(ownerDir));
  }
  const address = slot?.hostIp ?? '127.0.0.1';
  const [etcdClient, etcdPeer, apiserver, controllerManager, scheduler, kwok, dnsHealth] =
    await freePorts(7);
  const ports: ClusterPorts = {
    etcdClient: etcdClient!,
    etcdPeer: etcdPeer!,
    apiserver: apiserver!,
    controllerManager: controllerManager!,
    scheduler: scheduler!,
    kwok: kwok!,
  };
  const tokens = Object.fromEntries(
    clusterUsers.map((u) => [u, randomBytes(24).toString('hex')]),
  ) as Record<ClusterUser, string>;
  // a token for every node the cluster may ever add: the API server reads the file once
  const realUsers = realNodeUsers(options.realNodes > 0 ? MAX_REAL_NODES : 0);
  const realTokens = Object.fromEntries(
    realUsers.map((u) => [u.user, randomBytes(24).toString('hex')]),
  );
  writeFileSync(
    paths.tokenFile,
    tokenFileContent(
      tokens,
      realUsers.map((u) => ({ ...u, token: realTokens[u.user]! })),
    ),
    { mode: 0o600 },
  );
  // One RSA key both signs and verifies service account tokens.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(paths.serviceAccountKey, privateKey.export({ type: 'pkcs1', format: 'pem' }), {
    mode: 0o600,
  });
  writeFileSync(paths.auditPolicy, auditPolicyYaml());
  writeFileSync(
    paths.schedulerConfig,
    schedulerConfigYaml(userKubeconfig(paths, 'kube-scheduler'), options),
  );
  const stages = kwokStageFiles.map((f) => readFileSync(join(bins.kwokStages, f), 'utf8'));
  writeFileSync(paths.kwokConfig, kwokConfigYaml(stages));

  const commands = componentCommands(bins, paths, ports, options, {
    address,
    realNodes: slot !== undefined,
  });
  const state: ClusterState = {
    version: 1,
    dir: options.dir,
    binDir: bins.dir,
    server: `https://${address}:${ports.apiserver}`,
    ports,
    tokens,
    components: {},
    nodes: [],
    startedAt: new Date().toISOString(),
    ...(slot !== undefined
      ? {
          real: {
            slot: slot.slot,
            nodes: [],
            tokens: realTokens,
            zones: options.zones,
            images: options.images,
          },
        }
      : {}),
  };
  writeState(paths.state, state);

  const cluster = new LocalCluster(paths, state, bins, options.startTimeoutMs);
  try {
    if (slot !== undefined) setUpSlotNetwork(slot);
    await createPki(paths.certDir, ['127.0.0.1', address, firstServiceIp(options.serviceCidr)]);
    for (const name of componentNames) {
      if (name === 'kube-controller-manager') {
        // Everything after the API server needs its certificate in a kubeconfig.
        cluster.writeKubeconfigs();
      }
      progress(`starting ${name}`);
      state.components[name] = commands[name];
      await cluster.startComponent(name);
    }
    progress(`creating ${options.nodes} fake kwok nodes`);
    await cluster.createNodes(options, 0, options.nodes);
    progress('waiting for the default ServiceAccount (the controller manager works)');
    await cluster.waitDefaultServiceAccount();
    if (slot !== undefined) {
      await cluster.startReal(slot, options.realNodes, dnsHealth!, progress);
    }
  } catch (err) {
    progress('start failed: stopping what was started');
    await stopAll(state);
    rmSync(paths.state, { force: true });
    throw err;
  }
  return cluster;
}

/** The cluster whose state is in `dir`, when all of its servers are running; else undefined. */
export function findRunningCluster(dir = '.cluster'): Cluster | undefined {
  const paths = clusterPaths(parseClusterOptions({ dir }).dir);
  const state = readState(paths.state);
  if (state === undefined || liveComponents(state).length !== componentNames.length)
    return undefined;
  return new LocalCluster(paths, state, binariesIn(state.binDir), 120_000);
}

/** Like findRunningCluster, but also accepts a half-dead cluster (for `down`); throws when there is no state. */
export function attachCluster(dir = '.cluster'): Cluster {
  const paths = clusterPaths(parseClusterOptions({ dir }).dir);
  const state = readState(paths.state);
  if (state === undefined) throw new ClusterNotRunningError(`no cluster state in ${paths.state}`);
  return new LocalCluster(paths, state, binariesIn(state.binDir), 120_000);
}

/** The first address of the Service range: the `kubernetes` Service's ClusterIP. */
export function firstServiceIp(cidr: string): string {
  const [base] = cidr.split('/');
  const octets = (base ?? '').split('.').map(Number);
  octets[3] = (octets[3] ?? 0) + 1;
  return octets.join('.');
}

/** Whether the cluster in `dir` still has a running API server (a slot owner that is alive). */
function ownerAlive(dir: string): boolean {
  const state = readState(clusterPaths(dir).state);
  return state !== undefined && liveComponents(state).includes('kube-apiserver');
}

function liveComponents(state: ClusterState): ComponentName[] {
  return componentNames.filter((n) => {
    const c = state.components[n];
    return c?.pid !== undefined && isRunning(c.pid, c.command);
  });
}

/**
 * Real nodes first (their kubelets stop starting containers), then cluster DNS, then the
 * control plane in reverse start order (kwok and the controllers first, etcd last), then
 * everything the nodes left on the host.
 */
async function stopAll(state: ClusterState): Promise<void> {
  if (state.real !== undefined) {
    for (const node of state.real.nodes) await stopRealNode(node);
    for (const c of [state.real.loadBalancer, state.real.storage, state.real.coredns])
      if (c?.pid !== undefined) await stopProcess(c.pid, c.command);
  }
  for (const name of [...componentNames].reverse()) {
    const c = state.components[name];
    if (c?.pid !== undefined) await stopProcess(c.pid, c.command);
  }
  releaseSlot(state);
}

/** The real nodes' traces, unless the slot has since been claimed by another cluster. */
function releaseSlot(state: ClusterState): void {
  if (state.real === undefined) return;
  const slot = slotLayout(state.real.slot);
  if (ownsSlot(slot, state.dir)) teardownSlot(slot, state.dir);
}

/** Last resort on an abnormal exit: SIGKILL every server, then remove the nodes' traces. Synchronous. */
export function killClusterNow(state: ClusterState): void {
  const pids = [
    ...Object.values(state.components).map((c) => c?.pid),
    ...(state.real?.nodes.flatMap((n) => Object.values(n.components).map((c) => c.pid)) ?? []),
    state.real?.coredns?.pid,
    state.real?.storage?.pid,
    state.real?.loadBalancer?.pid,
  ];
  for (const pid of pids) {
    if (pid === undefined) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  releaseSlot(state);
}

function linkBinaries(bins: ClusterBinaries, paths: ClusterPaths): void {
  for (const file of [bins.kubectl, bins.helm, bins.kwok, bins.etcd, bins.kubeApiserver]) {
    const link = join(paths.bin, basename(file));
    if (!existsSync(link)) symlinkSync(file, link);
  }
}

class LocalCluster implements Cluster {
  readonly dir: string;
  readonly kubeconfig: string;
  readonly server: string;
  readonly ports: ClusterPorts;

  constructor(
    private readonly paths: ClusterPaths,
    private readonly state: ClusterState,
    readonly binaries: ClusterBinaries,
    private readonly timeoutMs: number,
  ) {
    this.dir = paths.dir;
    this.kubeconfig = paths.kubeconfig;
    this.server = state.server;
    this.ports = state.ports;
  }

  get nodes(): readonly string[] {
    return this.state.nodes;
  }

  get realNodes(): readonly string[] {
    return this.state.real?.nodes.map((n) => n.name) ?? [];
  }

  containerdSocket(node: string): string {
    const real = this.state.real;
    const n = real?.nodes.find((x) => x.name === node);
    if (real === undefined || n === undefined)
      throw new ClusterNotRunningError(`no real node ${node}`);
    return nodeLayout(slotLayout(real.slot), this.dir, n.index, []).containerdSocket;
  }

  killNow(): void {
    killClusterNow(readState(this.paths.state) ?? this.state);
  }

  /** What starting real nodes needs: binaries (built once), images, tokens, addresses. */
  private async realContext(
    slot: SlotLayout,
    progress: (line: string) => void,
    rt?: RuntimeBinaries,
  ): Promise<RealNodesContext> {
    if (rt === undefined) {
      progress('building or finding the node runtime (cluster/build-runtime.sh)');
      rt = await ensureRuntimeBinaries({ onProgress: progress });
    }
    const caFile = apiserverCertFile(this.paths);
    return {
      slot,
      clusterDir: this.dir,
      logs: this.paths.logs,
      server: this.server,
      caPem: readFileSync(caFile, 'utf8'),
      caFile,
      tokens: this.state.real?.tokens ?? {},
      zones: this.state.real?.zones ?? ['zone-a'],
      bins: {
        kubelet: this.binaries.kubelet,
        kubeProxy: this.binaries.kubeProxy,
        containerd: rt.containerd,
        ctr: rt.ctr,
        coredns: rt.coredns,
        shimDir: dirname(rt.containerdShim),
      },
      images: [
        await ensurePauseImage(rt.pause),
        await ensureVolumeHelperImage(),
        await ensureLoadBalancerImage(rt.metallbController, rt.metallbSpeaker),
        ...(this.state.real?.images ?? []),
      ],
      timeoutMs: this.timeoutMs,
      progress,
    };
  }

  /** CoreDNS and the first real nodes, then waits until every real Node is Ready. */
  async startReal(
    slot: SlotLayout,
    count: number,
    dnsHealthPort: number,
    progress: (line: string) => void,
  ): Promise<void> {
    progress('building or finding the node runtime (cluster/build-runtime.sh)');
    const rt = await ensureRuntimeBinaries({ onProgress: progress });
    const ctx = await this.realContext(slot, progress, rt);
    progress('starting CoreDNS');
    const dns = await startCoreDns(ctx, dnsHealthPort);
    this.saveState((s) => {
      if (s.real) s.real.coredns = dns;
    });
    progress('installing the load balancer (MetalLB, layer 2)');
    await this.installLoadBalancer(slot, rt);
    await this.startNodes(
      ctx,
      Array.from({ length: count }, (_, i) => i + 1),
      {},
      progress,
    );
    progress('starting the volume provisioner (local-path-provisioner, StorageClass local-path)');
    await this.startStorage(rt);
    await this.startLoadBalancerController(rt);
  }

  /**
   * MetalLB's CRDs, its address pool and its speakers' DaemonSet (real-nodes/load-balancer.ts);
   * the speakers start as the nodes come.
   */
  private async installLoadBalancer(slot: SlotLayout, rt: RuntimeBinaries): Promise<void> {
    // the CRDs are too large for client-side apply's annotation
    const crds = await this.kubectl(['apply', '--server-side', '-f', rt.metallbCrds]);
    if (crds.code !== 0) throw new Error(`applying MetalLB's CRDs failed: ${crds.stderr}`);
    await this.waitForCrds(['ipaddresspools.metallb.io', 'l2advertisements.metallb.io']);
    const applied = await this.kubectl(['apply', '-f', '-'], {
      input: loadBalancerObjects(slot, { [nodeKindLabel]: REAL_NODE_KIND }),
    });
    if (applied.code !== 0)
      throw new Error(`applying the load balancer's address pool failed: ${applied.stderr}`);
  }

  /** MetalLB's controller: its own process on the host (the speakers run on the nodes). */
  private async startLoadBalancerController(rt: RuntimeBinaries): Promise<void> {
    const [metricsPort] = await freePorts(1);
    const spec = lbControllerCommand(
      rt.metallbController,
      this.kubeconfig,
      metricsPort!,
      join(this.dir, 'metallb'),
      join(this.paths.logs, 'metallb-controller.log'),
    );
    spec.pid = spawnDetached(spec);
    this.saveState((s) => {
      if (s.real) s.real.loadBalancer = spec;
    });
  }

  /** The volume provisioner and its objects (real-nodes/storage.ts); its own process. */
  private async startStorage(rt: RuntimeBinaries): Promise<void> {
    const dir = join(this.dir, 'storage');
    const volumes = join(dir, 'volumes');
    const applied = await this.kubectl(['apply', '-f', '-'], { input: storageObjects(volumes) });
    if (applied.code !== 0)
      throw new Error(`applying the volume provisioner's objects failed: ${applied.stderr}`);
    const spec = provisionerCommand(
      rt.localPathProvisioner,
      this.kubeconfig,
      writeProvisionerConfig(dir, volumes),
      join(this.paths.logs, 'local-path-provisioner.log'),
    );
    spec.pid = spawnDetached(spec);
    this.saveState((s) => {
      if (s.real) s.real.storage = spec;
    });
  }

  async addRealNodes(count: number, labels: Record<string, string> = {}): Promise<string[]> {
    const real = this.state.real;
    if (real === undefined) throw new ClusterNotRunningError('this cluster has no real nodes');
    const slot = slotLayout(real.slot);
    const ctx = await this.realContext(slot, () => undefined);
    const next = Math.max(0, ...real.nodes.map((n) => n.index)) + 1;
    if (next + count - 1 > MAX_REAL_NODES)
      throw new ClusterConfigError(`at most ${MAX_REAL_NODES} real nodes per cluster`);
    const indices = Array.from({ length: count }, (_, i) => next + i);
    const started = await this.startNodes(ctx, indices, labels, () => undefined);
    return started.map((n) => n.name);
  }

  loseRealNode(name: string): void {
    this.tearDownRealNodes([name]);
  }

  /** Tears the named real nodes down as in a power cut and drops them from the state. */
  private tearDownRealNodes(names: readonly string[]): RealNodeState[] {
    const real = this.state.real;
    const nodes = names.map((name) => {
      const node = real?.nodes.find((n) => n.name === name);
      if (real === undefined || node === undefined)
        throw new ClusterNotRunningError(`no real node ${name}`);
      return node;
    });
    const slot = slotLayout(real!.slot);
    for (const node of nodes) teardownNode(slot, nodeLayout(slot, this.dir, node.index, []));
    this.saveState((s) => {
      if (s.real) s.real.nodes = s.real.nodes.filter((n) => !names.includes(n.name));
    });
    return nodes;
  }

  async restartRealNodes(
    names: readonly string[],
    options: { labels?: Record<string, string>; whileDown?: () => Promise<void> } = {},
  ): Promise<void> {
    // every node down before any comes back, as after a power cut
    const nodes = this.tearDownRealNodes(names);
    const slot = slotLayout(this.state.real!.slot);
    await options.whileDown?.();
    const ctx = await this.realContext(slot, () => undefined);
    await this.startNodes(
      ctx,
      nodes.map((n) => n.index),
      options.labels ?? {},
      () => undefined,
    );
  }

  private async startNodes(
    ctx: RealNodesContext,
    indices: number[],
    labels: Record<string, string>,
    progress: (line: string) => void,
  ): Promise<RealNodeState[]> {
    const slot = ctx.slot;
    const existing = (this.state.real?.nodes ?? []).map((n) =>
      nodeLayout(slot, this.dir, n.index, ctx.zones),
    );
    const nodes = await startRealNodes(
      ctx,
      indices,
      existing,
      (node) =>
        this.saveState((s) => {
          if (s.real === undefined) return;
          s.real.nodes = [...s.real.nodes.filter((n) => n.name !== node.name), node];
        }),
      labels,
    );
    progress(`waiting for ${nodes.length} real nodes to be Ready`);
    const api = this.kubeConfig().makeApiClient(CoreV1Api);
    const names = new Set(nodes.map((n) => n.name));
    let dead: string | undefined;
    const result = await waitFor(
      async () => {
        const list = await api.listNode({ labelSelector: `${nodeKindLabel}=${REAL_NODE_KIND}` });
        const ready = list.items.filter(
          (n) =>
            names.has(n.metadata?.name ?? '') &&
            n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        return ready.length === names.size;
      },
      {
        timeoutMs: this.timeoutMs,
        intervalMs: 500,
        alive: () => {
          dead = deadServer(nodes)?.logPath;
          return dead === undefined;
        },
      },
    );
    if (result !== 'ok') {
      const logPath =
        dead ?? join(this.paths.logs, `${nodes[0]?.name ?? 'real-node-1'}-kubelet.log`);
      throw new ComponentStartError(
        `real nodes did not become Ready (${result}); see ${logPath}; last lines:\n${tailFile(logPath)}`,
        'kubelet',
        logPath,
      );
    }
    return nodes;
  }

  async waitForCrds(names: readonly string[], timeoutMs = 60_000): Promise<void> {
    const result = await waitFor(
      async () => {
        for (const crd of names) {
          const r = await this.kubectl([
            'get',
            `crd/${crd}`,
            '-o',
            'jsonpath={.status.conditions[?(@.type=="Established")].status}',
          ]);
          if (r.stdout.trim() !== 'True') return false;
        }
        return true;
      },
      { timeoutMs, intervalMs: 250 },
    );
    if (result !== 'ok') throw new Error(`CRDs not Established (${result}): ${names.join(', ')}`);
  }

  kubeconfigFor(user: ClusterUser): string {
    return userKubeconfig(this.paths, user);
  }

  kubeConfig(user: ClusterUser = 'admin'): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigFor(user));
    return kc;
  }

  async kubectl(
    args: string[],
    options: { input?: string; user?: ClusterUser } = {},
  ): Promise<KubectlResult> {
    return run(
      this.binaries.kubectl,
      args,
      { KUBECONFIG: this.kubeconfigFor(options.user ?? 'admin') },
      options.input,
    );
  }

  async helm(args: string[]): Promise<KubectlResult> {
    return run(this.binaries.helm, args, {
      KUBECONFIG: this.kubeconfig,
      // Keep helm's caches and config inside the cluster folder, not in the user's home.
      HELM_CACHE_HOME: join(this.dir, 'helm', 'cache'),
      HELM_CONFIG_HOME: join(this.dir, 'helm', 'config'),
      HELM_DATA_HOME: join(this.dir, 'helm', 'data'),
    });
  }

  async addNodes(count: number): Promise<string[]> {
    const existing = this.state.nodes.length;
    const prefix = this.state.nodes[0]?.replace(/-\d+$/, '') ?? 'kwok-node';
    const options = parseClusterOptions({ nodePrefix: prefix });
    await this.createNodes(options, existing, count);
    return this.state.nodes.slice(existing);
  }

  status(): ComponentStatus[] {
    return componentNames.map((name) => {
      const c = this.state.components[name];
      return {
        name,
        pid: c?.pid,
        running: c?.pid !== undefined && isRunning(c.pid, c.command),
        logPath: c?.logPath ?? join(this.paths.logs, `${name}.log`),
      };
    });
  }

  async stopComponent(name: ComponentName): Promise<void> {
    const c = this.state.components[name];
    if (c?.pid === undefined) return;
    await stopProcess(c.pid, c.command);
    this.saveState((s) => {
      const sc = s.components[name];
      if (sc !== undefined) delete sc.pid;
    });
  }

  async startComponent(name: ComponentName): Promise<void> {
    const c = this.state.components[name];
    if (c === undefined) throw new ClusterNotRunningError(`no command recorded for ${name}`);
    if (c.pid !== undefined && isRunning(c.pid, c.command)) return;
    const pid = spawnDetached(c);
    c.pid = pid;
    this.saveState((s) => {
      s.components[name] = { ...c, pid };
    });
    const result = await waitFor(() => this.healthy(name), {
      timeoutMs: this.timeoutMs,
      alive: () => isRunning(pid, c.command),
    });
    if (result !== 'ok') {
      const why = result === 'died' ? 'exited' : `was not healthy after ${this.timeoutMs / 1000}s`;
      throw new ComponentStartError(
        `${name} ${why}; its log is ${c.logPath}; last lines:\n${tailFile(c.logPath)}`,
        name,
        c.logPath,
      );
    }
  }

  async stop(options: { keepLogs?: boolean } = {}): Promise<void> {
    const current = readState(this.paths.state) ?? this.state;
    await stopAll(current);
    if (options.keepLogs !== true) {
      rmSync(this.dir, { recursive: true, force: true });
      return;
    }
    // Everything but logs/ (a test run's servers' logs and audit log, for its report).
    for (const entry of readdirSync(this.dir)) {
      if (entry !== 'logs') rmSync(join(this.dir, entry), { recursive: true, force: true });
    }
  }

  /** Writes the admin and component kubeconfigs, trusting the API server's self-signed certificate. */
  writeKubeconfigs(): void {
    const ca = readFileSync(apiserverCertFile(this.paths), 'utf8');
    for (const user of clusterUsers) {
      writeFileSync(
        this.kubeconfigFor(user),
        kubeconfigYaml(this.server, ca, this.state.tokens[user], user),
        {
          mode: 0o600,
        },
      );
    }
  }

  async createNodes(options: ClusterOptions, from: number, count: number): Promise<void> {
    const api = this.kubeConfig().makeApiClient(CoreV1Api);
    const names: string[] = [];
    for (let start = from; start < from + count; start += 25) {
      const batch: V1Node[] = [];
      for (let i = start; i < Math.min(from + count, start + 25); i++)
        batch.push(fakeNode(options, i));
      await Promise.all(batch.map((body) => api.createNode({ body })));
      names.push(...batch.map((n) => n.metadata!.name!));
    }
    this.saveState((s) => {
      s.nodes.push(...names);
    });
    const wanted = new Set(names);
    const result = await waitFor(
      async () => {
        const list = await api.listNode({ labelSelector: `${nodeKindLabel}=kwok` });
        const ready = list.items.filter(
          (n) =>
            wanted.has(n.metadata?.name ?? '') &&
            n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        return ready.length === wanted.size;
      },
      { timeoutMs: this.timeoutMs, intervalMs: 300 },
    );
    if (result !== 'ok') {
      const logPath = join(this.paths.logs, 'kwok.log');
      throw new ComponentStartError(
        `kwok did not make the fake nodes Ready; its log is ${logPath}; last lines:\n${tailFile(logPath)}`,
        'kwok',
        logPath,
      );
    }
  }

  async waitDefaultServiceAccount(): Promise<void> {
    const api = this.kubeConfig().makeApiClient(CoreV1Api);
    const result = await waitFor(
      async () => {
        try {
          await api.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: this.timeoutMs },
    );
    if (result !== 'ok') {
      const logPath = join(this.paths.logs, 'kube-controller-manager.log');
      throw new ComponentStartError(
        `the controller manager created no ServiceAccount; its log is ${logPath}; last lines:\n${tailFile(logPath)}`,
        'kube-controller-manager',
        logPath,
      );
    }
  }

  private async healthy(name: ComponentName): Promise<boolean> {
    const p = this.state.ports;
    switch (name) {
      case 'etcd':
        return (await probe(`http://127.0.0.1:${p.etcdClient}/health`)) === 200;
      case 'kube-apiserver': {
        const certFile = apiserverCertFile(this.paths);
        if (!existsSync(certFile)) return false;
        const ca = readFileSync(certFile, 'utf8');
        return (
          (await probe(`${this.server}/readyz`, { ca, token: this.state.tokens.admin })) === 200
        );
      }
      case 'kube-controller-manager':
        return (await probe(`https://127.0.0.1:${p.controllerManager}/healthz`)) === 200;
      case 'kube-scheduler':
        return (await probe(`https://127.0.0.1:${p.scheduler}/healthz`)) === 200;
      case 'kwok':
        return (await probe(`http://127.0.0.1:${p.kwok}/healthz`)) === 200;
    }
  }

  /** Re-reads the state file, applies a change to it and to our copy, and writes it back. */
  private saveState(change: (s: ClusterState) => void): void {
    const onDisk = readState(this.paths.state) ?? this.state;
    change(onDisk);
    if (onDisk !== this.state) change(this.state);
    writeState(this.paths.state, onDisk);
  }
}

async function run(
  command: string,
  args: string[],
  env: Record<string, string>,
  input?: string,
): Promise<KubectlResult> {
  return new Promise<KubectlResult>((resolve, reject) => {
    // No input: no stdin pipe at all. (Writing an empty input to a kubectl that had already
    // exited failed a test with EPIPE.) With input, a child that exits without reading it all
    // is reported by its exit code and output, not by an EPIPE on the pipe.
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    if (child.stdin) {
      child.stdin.on('error', () => {});
      child.stdin.end(input);
    }
  });
}
