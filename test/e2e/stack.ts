// The e2e harness: the run's shared cluster (test/helpers/cluster.ts) with its real nodes
// (kubelet + containerd running the images built from our Dockerfiles, docs/adr/0005-real-nodes.md),
// a namespace per test file, and the operator installed into it as users install it: `helm
// install` of charts/peernet-operator watching that namespace only. Everything goes through
// kubectl and the operator; the peers are reached on their pod addresses (routable from here).
// A file that needs nodes of its own (it kills one) adds real nodes labelled and tainted with
// its group, and its networks are pinned to them.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll } from '@jest/globals';
import type { V1Secret } from '@kubernetes/client-node';
import { nodeKindLabel } from '../../cluster/index.js';
import { run } from '../../cluster/exec.js';
import { IMAGE_REPOSITORIES } from '../../cluster/images/index.js';
import { ensureRuntimeBinaries } from '../../cluster/runtime-binaries.js';
import { mapLimit } from '../../common/concurrency.js';
import type { PeerNetworkStatus, PeerStatus } from '../../operator/api/schema.js';
import { apiTokenOf } from '../../operator/pods/children.js';
import { LABEL_INSTANCE, apiTokenSecretName } from '../../operator/pods/names.js';
import { networkReady, peerApiUrl } from '../../operator/status/view.js';
import { createPeerApiClient, errorOf, type PeerApiClient } from '../../peer/api/client.js';
import { chartFullname, installChart, uninstallChart } from '../helpers/chart.js';
import { useCluster, waitUntil, type TestCluster } from '../helpers/cluster.js';

export { waitUntil } from '../helpers/cluster.js';

/** The label (and taint key) of a file's own nodes; its value is the file's namespace. */
export const GROUP_LABEL = 'peernet.io/e2e-group';

const version = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;
/** The peer image every real node imported (the operator's default peer image). */
export const PEER_IMAGE = `${IMAGE_REPOSITORIES.peer}:${version}`;

/** Every call to a peer gives up after this long. */
const FETCH_TIMEOUT_MS = 15_000;

/**
 * A peer of status.peers, with its network's API token (its Secret `<network>-api-token`)
 * attached by the stack's `status()`: putRecord and peerJson send it as a bearer token.
 */
export type PeerStatusEntry = PeerStatus & { token?: string };

/** A PeerNetwork's status as the stack reads it (its peers with their token). */
export type NetworkStatus = Omit<PeerNetworkStatus, 'peers'> & { peers?: PeerStatusEntry[] };

/** What a test sets of a PeerNetwork; placement (nodeSelector, tolerations) is the stack's. */
export interface NetworkSpec {
  replicas: number;
  mode: 'colocated' | 'sameNode' | 'spread';
  peersPerPod?: number;
  spreadPolicy?: 'Required' | 'Preferred';
  /** More spec fields (image, privateNetwork, networkPolicy, ...), as in the resource. */
  extra?: Record<string, unknown>;
}

export interface RealStackOptions {
  /**
   * Real nodes of this file's own, started before and removed after it (for tests that kill a
   * node). 0: the networks run on the shared cluster's real nodes. @default 0
   */
  ownNodes?: number;
}

/** A container of a pod as containerd knows it. */
export interface ContainerRef {
  node: string;
  id: string;
}

export interface PortForward {
  /** The local port kubectl chose. */
  port: number;
  stop(): Promise<void>;
}

export interface RealStack {
  readonly t: TestCluster;
  readonly namespace: string;
  /** The helm release (named after the namespace: the chart's ClusterRole is named after it). */
  readonly release: string;
  /** The node labels every network of this file is pinned to. */
  readonly nodeSelector: Record<string, string>;
  /** This file's own nodes still alive (empty without `ownNodes`). */
  readonly ownNodes: readonly string[];
  /** A PeerNetwork manifest (JSON) in this file's namespace, pinned to its nodes. */
  network(name: string, spec: NetworkSpec): string;
  apply(manifest: string): Promise<void>;
  status(name: string): Promise<NetworkStatus>;
  /** The objects of a kind (`pods`, `pvc`, ...) labelled as the network's children. */
  childrenOf<T>(kind: string, network: string): Promise<T[]>;
  /** Waits until the network is Ready with `peers` ready peers, every one with an address. */
  waitReady(name: string, peers: number, timeoutMs?: number): Promise<NetworkStatus>;
  /** `ctr --address <node's containerd> -n k8s.io ...args` */
  ctr(node: string, args: string[]): Promise<string>;
  /** The node and containerd ID of a running container of a pod. */
  container(pod: string, container?: string): Promise<ContainerRef>;
  /** Kills one of this file's own nodes as a machine dies (the Node object stays). */
  loseNode(name: string): void;
  /**
   * This file's own nodes die at once and boot again (the same names and labels); `whileDown`
   * runs in between.
   */
  restartOwnNodes(whileDown?: () => Promise<void>): Promise<void>;
  /** `kubectl port-forward pod/POD 0:PORT` until `stop()`. */
  portForward(pod: string, port: number): Promise<PortForward>;
  /** Pods, recent events and the operator's log tail, for failure messages. */
  diagnose(): Promise<string>;
}

// A factory: the stack's hooks and helpers share the namespace, the release and the nodes.
export function useRealStack(prefix: string, options: RealStackOptions = {}): RealStack {
  const ownCount = options.ownNodes ?? 0;
  const own: string[] = [];
  const lost = new Set<string>();
  let installed = false;
  let ctrBin: Promise<string> | undefined;

  // Declared before useCluster's hooks: jest runs afterAll hooks in declaration order, and the
  // release must be uninstalled before its namespace (which holds helm's record) goes.
  afterAll(async () => {
    try {
      void t.cluster;
    } catch {
      return; // the cluster never came up: useCluster's beforeAll reported why
    }
    const problems: string[] = [];
    const note = (what: string, err: unknown): void => {
      problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    };
    if (installed) {
      await uninstallChart(t.cluster, release, t.namespace).catch((e: unknown) =>
        note('helm uninstall', e),
      );
    }
    // Wait for the pods to be gone, so the next file starts on quiet nodes.
    const del = await t.cluster
      .kubectl(['delete', 'namespace', t.namespace, '--ignore-not-found', '--timeout=180s'])
      .catch((e: unknown) => ({ code: 1, stdout: '', stderr: String(e) }));
    if (del.code !== 0) note(`delete namespace ${t.namespace}`, del.stderr);
    for (const node of own) {
      try {
        if (!lost.has(node)) t.cluster.loseRealNode(node);
      } catch (e) {
        note(`lose ${node}`, e);
      }
      const r = await t.cluster.kubectl(['delete', 'node', node, '--ignore-not-found']);
      if (r.code !== 0) note(`delete node ${node}`, r.stderr);
    }
    if (problems.length > 0) throw new Error(`e2e teardown: ${problems.join('; ')}`);
  }, 600_000);

  const t = useCluster(prefix);
  const release = t.namespace;
  const fullname = chartFullname(release);

  beforeAll(async () => {
    if (ownCount > 0) {
      own.push(...(await t.cluster.addRealNodes(ownCount, { [GROUP_LABEL]: t.namespace })));
      // The taint keeps other files' networks (pinned to node-kind=real) off nodes this file
      // kills; its own networks tolerate it. (A pod scheduled in the moment between Ready and
      // the taint could still land here: the e2e files run one at a time.)
      for (const node of own) {
        await t.kubectlOk(['taint', 'node', node, `${GROUP_LABEL}=${t.namespace}:NoSchedule`]);
      }
    }
    installed = true; // a failed install still leaves a release to uninstall
    await installChart(t.cluster, {
      release,
      namespace: t.namespace,
      // a namespaced install: Roles in this namespace only (templates/rbac.yaml)
      set: [`watchNamespaces={${t.namespace}}`],
      // the operator runs on the shared real nodes, never on a file's own (killed) ones
      setString: [`nodeSelector.${nodeKindLabel.replace(/\./g, '\\.')}=real`],
    });
  }, 900_000);

  const nodeSelector = (): Record<string, string> =>
    ownCount > 0 ? { [GROUP_LABEL]: t.namespace } : { [nodeKindLabel]: 'real' };

  const tokens = new Map<string, string>();
  /** The network's API token from its Secret, read once it exists. */
  const tokenOf = async (name: string): Promise<string | undefined> => {
    const known = tokens.get(name);
    if (known !== undefined) return known;
    const r = await t.kubectl(['get', 'secret', apiTokenSecretName(name), '-o', 'json']);
    const token = r.code === 0 ? apiTokenOf(JSON.parse(r.stdout) as V1Secret) : undefined;
    if (token === undefined) return undefined;
    tokens.set(name, token);
    return token;
  };

  const status = async (name: string): Promise<NetworkStatus> => {
    const out = await t.kubectlOk(['get', 'peernetwork', name, '-o', 'json']);
    const st = (JSON.parse(out) as { status?: NetworkStatus }).status ?? {};
    const token = st.peers?.length ? await tokenOf(name) : undefined;
    if (token !== undefined) for (const p of st.peers ?? []) p.token = token;
    return st;
  };

  const diagnose = async (): Promise<string> => {
    const parts: string[] = [];
    for (const args of [
      ['get', 'pods', '-o', 'wide'],
      ['get', 'events', '--sort-by=.lastTimestamp'],
      ['logs', `deployment/${fullname}`, '--tail=40'],
    ]) {
      const r = await t.kubectl(args).catch((e: unknown) => ({ stdout: '', stderr: String(e) }));
      const text = `${r.stdout}${r.stderr}`.trimEnd().split('\n').slice(-40).join('\n');
      parts.push(`$ kubectl ${args.join(' ')}\n${text}`);
    }
    return parts.join('\n');
  };

  const ctr = async (node: string, args: string[]): Promise<string> => {
    ctrBin ??= ensureRuntimeBinaries().then((b) => b.ctr);
    return run(await ctrBin, [
      '--address',
      t.cluster.containerdSocket(node),
      '-n',
      'k8s.io',
      ...args,
    ]);
  };

  return {
    t,
    get namespace() {
      return t.namespace;
    },
    release,
    get nodeSelector() {
      return nodeSelector();
    },
    get ownNodes() {
      return own.filter((n) => !lost.has(n));
    },
    network(name, spec) {
      const topology: Record<string, unknown> = { mode: spec.mode, nodeSelector: nodeSelector() };
      if (spec.peersPerPod !== undefined) topology.peersPerPod = spec.peersPerPod;
      if (spec.spreadPolicy !== undefined) topology.spreadPolicy = spec.spreadPolicy;
      const placement =
        ownCount > 0
          ? {
              tolerations: [
                { key: GROUP_LABEL, operator: 'Equal', value: t.namespace, effect: 'NoSchedule' },
              ],
            }
          : {};
      return JSON.stringify({
        apiVersion: 'peernet.io/v1alpha1',
        kind: 'PeerNetwork',
        metadata: { name, namespace: t.namespace },
        spec: { replicas: spec.replicas, topology, ...placement, ...spec.extra },
      });
    },
    async apply(manifest) {
      await t.kubectlOk(['apply', '-f', '-'], { input: manifest });
    },
    status,
    async childrenOf<T>(kind: string, network: string): Promise<T[]> {
      const out = await t.kubectlOk([
        'get',
        kind,
        '-l',
        `${LABEL_INSTANCE}=${network}`,
        '-o',
        'json',
      ]);
      return (JSON.parse(out) as { items: T[] }).items;
    },
    async waitReady(name, peers, timeoutMs = 240_000) {
      let last: NetworkStatus = {};
      try {
        await waitUntil(
          async () => {
            last = await status(name);
            return networkReady(last, peers);
          },
          timeoutMs,
          `PeerNetwork ${name} Ready with ${peers} peers`,
          500,
        );
      } catch (err) {
        throw new Error(
          `${err instanceof Error ? err.message : String(err)}; last status: ${JSON.stringify(last)}\n${await diagnose()}`,
        );
      }
      return last;
    },
    ctr,
    async container(pod, name = 'peer-0') {
      const out = await t.kubectlOk(['get', 'pod', pod, '-o', 'json']);
      const p = JSON.parse(out) as {
        spec: { nodeName?: string };
        status: { containerStatuses?: Array<{ name: string; containerID?: string }> };
      };
      const id = p.status.containerStatuses?.find((c) => c.name === name)?.containerID;
      if (p.spec.nodeName === undefined || id === undefined)
        throw new Error(`pod ${pod} has no running container ${name}`);
      // containerStatuses name it `containerd://<id>`
      return { node: p.spec.nodeName, id: id.replace(/^[a-z]+:\/\//, '') };
    },
    loseNode(name) {
      if (!own.includes(name)) throw new Error(`${name} is not one of this file's own nodes`);
      t.cluster.loseRealNode(name);
      lost.add(name);
    },
    async restartOwnNodes(whileDown) {
      const alive = own.filter((n) => !lost.has(n));
      if (alive.length === 0) throw new Error('this file has no nodes of its own');
      await t.cluster.restartRealNodes(alive, {
        labels: { [GROUP_LABEL]: t.namespace },
        ...(whileDown ? { whileDown } : {}),
      });
    },
    portForward(pod, port) {
      return portForward(t, pod, port);
    },
    diagnose,
  };
}

/** Spawns the cluster's kubectl `port-forward pod/POD 0:PORT` and reads the port it chose. */
function portForward(t: TestCluster, pod: string, port: number): Promise<PortForward> {
  const child = spawn(
    t.cluster.binaries.kubectl,
    ['-n', t.namespace, 'port-forward', `pod/${pod}`, `0:${port}`],
    {
      env: { ...process.env, KUBECONFIG: t.cluster.kubeconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise<PortForward>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`kubectl port-forward pod/${pod} named no port within 30s: ${out}`));
    }, 30_000);
    const onData = (d: Buffer): void => {
      out += d.toString('utf8');
      // "Forwarding from 127.0.0.1:41235 -> 5001"
      const m = /Forwarding from 127\.0\.0\.1:(\d+) -> /.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), stop });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`kubectl port-forward pod/${pod} exited: ${out}`));
    });
  });
}

/** The HTTP API base URL of a peer listed in status.peers. */
export function apiOf(peer: PeerStatusEntry): string {
  return peerApiUrl(peer) ?? 'http://missing-ip:5001';
}

/** The typed client of a peer listed in status.peers, with its network's token. */
export function clientOf(peer: PeerStatusEntry): PeerApiClient {
  return createPeerApiClient({
    baseUrl: apiOf(peer),
    timeoutMs: FETCH_TIMEOUT_MS,
    ...(peer.token !== undefined ? { token: peer.token } : {}),
  });
}

export async function putRecord(peer: PeerStatusEntry, key: string, value: string): Promise<void> {
  await clientOf(peer).put(key, value);
}

/** The value, or undefined when the peer answers 404. */
export async function getRecord(peer: PeerStatusEntry, key: string): Promise<string | undefined> {
  const r = await clientOf(peer).get(key);
  return r === undefined ? undefined : new TextDecoder().decode(r.value);
}

/**
 * Every record read back, each from the next reader in turn, `concurrency` at a time; returns
 * what was missing or wrong. Only a transport failure ("fetch failed": a peer that has just come
 * back refuses the connection) is retried, for up to 10 s; any other error counts as wrong.
 */
export async function unreadableRecords(
  readers: readonly PeerStatusEntry[],
  records: ReadonlyMap<string, string>,
  concurrency = 8,
): Promise<string[]> {
  const wrong = await mapLimit([...records], concurrency, async ([key, value], i) => {
    const reader = readers[i % readers.length] as PeerStatusEntry;
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const got = await getRecord(reader, key);
        return got === value ? undefined : `${key} on ${reader.name}: ${String(got)}`;
      } catch (err: unknown) {
        const transport = err instanceof TypeError && err.message === 'fetch failed';
        if (!transport || Date.now() > deadline) return `${key} on ${reader.name}: ${String(err)}`;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  });
  return wrong.filter((w): w is string => w !== undefined);
}

/** The JSON answer of a route (PeerApiError for any status but 200). */
export async function peerJson<T>(peer: PeerStatusEntry, path: string, method = 'GET'): Promise<T> {
  const r = await clientOf(peer).request(method, path);
  if (r.status !== 200) throw errorOf(r);
  return JSON.parse(r.text) as T;
}
