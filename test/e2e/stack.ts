// The e2e harness: the shared control plane (test/helpers/cluster.ts) with a namespace per file,
// local nodes of this file's own (labelled with a group, so networks are pinned to them), and
// the operator as a child process watching the file's namespace. Everything goes through
// `kubectl apply` and the operator; the peers are reached on their pod addresses.
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll } from '@jest/globals';
import { pino } from 'pino';
import { startLocalNodes, type LocalNodes } from '../../localnode/index.js';
import { useCluster, waitUntil, type TestCluster } from '../helpers/cluster.js';
import { applyCrds } from '../helpers/cluster-crd.js';
import { startOperatorProcess, type OperatorProcess } from '../helpers/cluster-operator.js';

export { waitUntil } from '../helpers/cluster.js';

export const GROUP_LABEL = 'peernet.io/e2e-group';

export interface PeerStatusEntry {
  name: string;
  pod: string;
  peerId?: string;
  node?: string;
  ready?: boolean;
  ip?: string;
  container?: string;
  routingTable?: number;
  connections?: number;
}

export interface NetworkStatus {
  phase?: string;
  readyPeers?: number;
  observedGeneration?: number;
  peers?: PeerStatusEntry[];
  conditions?: Array<{ type: string; status: string }>;
}

export interface LocalStack {
  readonly t: TestCluster;
  readonly namespace: string;
  readonly nodes: LocalNodes;
  readonly operator: OperatorProcess;
  /** The node label value that pins a network to this file's nodes. */
  readonly group: string;
  /** A PeerNetwork manifest pinned to this file's local nodes. */
  network(
    name: string,
    spec: { replicas: number; mode: string; peersPerPod?: number; spreadPolicy?: string },
  ): string;
  apply(manifest: string): Promise<void>;
  status(name: string): Promise<NetworkStatus>;
  /** Waits until the network is Ready with `peers` ready peers, every one with an address. */
  waitReady(name: string, peers: number, timeoutMs?: number): Promise<NetworkStatus>;
}

export function useLocalStack(
  prefix: string,
  nodeCount = 3,
  network: 'auto' | 'namespaces' | 'loopback' = 'auto',
): LocalStack {
  const t = useCluster(prefix);
  let nodes: LocalNodes | undefined;
  let operator: OperatorProcess | undefined;
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`useLocalStack: ${what} is not up (beforeAll failed?)`);
    return v;
  };

  beforeAll(async () => {
    await applyCrds(t.cluster);
    const dir = `.test-output/localnode/${t.namespace}`;
    mkdirSync(dir, { recursive: true });
    nodes = await startLocalNodes({
      kubeconfig: t.cluster.kubeconfig,
      nodes: nodeCount,
      namePrefix: `${t.namespace}-n`,
      nodeLabels: { [GROUP_LABEL]: t.namespace },
      stateDir: dir,
      stopGraceSeconds: 5,
      network,
      logger: pino({ level: 'info' }, pino.destination(`${dir}/runtime.log`)),
    });
    operator = startOperatorProcess({
      kubeconfig: t.cluster.kubeconfig,
      identity: t.namespace,
      namespaces: t.namespace,
      leaderElect: false,
      logDir: dir,
    });
  }, 120_000);

  afterAll(async () => {
    await operator?.stop(10_000);
    await nodes?.stop();
  }, 120_000);

  const status = async (name: string): Promise<NetworkStatus> => {
    const out = await t.kubectlOk(['get', 'peernetwork', name, '-o', 'json']);
    return (JSON.parse(out) as { status?: NetworkStatus }).status ?? {};
  };

  return {
    t,
    get namespace() {
      return t.namespace;
    },
    get nodes() {
      return need(nodes, 'the local node runtime');
    },
    get operator() {
      return need(operator, 'the operator');
    },
    get group() {
      return t.namespace;
    },
    network(name, spec) {
      const lines = [
        'apiVersion: peernet.io/v1alpha1',
        'kind: PeerNetwork',
        'metadata:',
        `  name: ${name}`,
        'spec:',
        `  replicas: ${spec.replicas}`,
        '  topology:',
        `    mode: ${spec.mode}`,
        ...(spec.peersPerPod !== undefined ? [`    peersPerPod: ${spec.peersPerPod}`] : []),
        ...(spec.spreadPolicy !== undefined ? [`    spreadPolicy: ${spec.spreadPolicy}`] : []),
        '    nodeSelector:',
        `      ${GROUP_LABEL}: ${t.namespace}`,
      ];
      return `${lines.join('\n')}\n`;
    },
    async apply(manifest) {
      await t.kubectlOk(['apply', '-f', '-'], { input: manifest });
    },
    status,
    async waitReady(name, peers, timeoutMs = 180_000) {
      let last: NetworkStatus = {};
      await waitUntil(
        async () => {
          last = await status(name);
          const all = last.peers ?? [];
          return (
            last.phase === 'Ready' &&
            last.readyPeers === peers &&
            all.length === peers &&
            all.every((p) => p.ready === true && p.ip !== undefined)
          );
        },
        timeoutMs,
        `PeerNetwork ${name} Ready with ${peers} peers`,
      ).catch((err: unknown) => {
        throw new Error(
          `${err instanceof Error ? err.message : String(err)}; last status: ${JSON.stringify(last)}`,
        );
      });
      return last;
    },
  };
}

/** The HTTP API base URL of a peer listed in status.peers. */
export function apiOf(peer: PeerStatusEntry): string {
  const index = Number(/(\d+)$/.exec(peer.container ?? 'peer-0')?.[1] ?? 0);
  return `http://${peer.ip ?? 'missing-ip'}:${5001 + index}`;
}

export async function putRecord(peer: PeerStatusEntry, key: string, value: string): Promise<void> {
  const res = await fetch(`${apiOf(peer)}/v1/records/${encodeURIComponent(key)}`, {
    method: 'PUT',
    body: value,
  });
  if (!res.ok)
    throw new Error(`PUT ${key} on ${peer.name}: HTTP ${res.status} ${await res.text()}`);
}

/** The value, or undefined when the peer answers 404. */
export async function getRecord(peer: PeerStatusEntry, key: string): Promise<string | undefined> {
  const res = await fetch(`${apiOf(peer)}/v1/records/${encodeURIComponent(key)}`, {
    signal: AbortSignal.timeout(15_000),
  });
  if (res.status === 404) return undefined;
  if (!res.ok)
    throw new Error(`GET ${key} on ${peer.name}: HTTP ${res.status} ${await res.text()}`);
  return res.text();
}

export async function peerJson<T>(peer: PeerStatusEntry, path: string, method = 'GET'): Promise<T> {
  const res = await fetch(`${apiOf(peer)}${path}`, { method, signal: AbortSignal.timeout(15_000) });
  if (!res.ok)
    throw new Error(`${method} ${path} on ${peer.name}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
