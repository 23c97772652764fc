#!/usr/bin/env node
// `npm start`: the whole thing on one machine. A local control plane (cluster/), local nodes that
// really run peers (localnode/, needs root), the operator, and an example spread PeerNetwork on
// those nodes; waits for Ready, writes a record on one peer and reads it on a peer of another
// node, prints `kubectl get peernetworks` and the pods, and runs until Ctrl-C, then stops it all.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import { pino } from 'pino';
import { z } from 'zod';
import { findRunningCluster, startCluster, type Cluster } from '../cluster/index.js';
import { startLocalNodes, type LocalNodes } from '../localnode/index.js';

const Options = z.object({
  nodes: z.coerce.number().int().min(2).max(20),
  replicas: z.coerce.number().int().min(2).max(200),
  name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/),
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/),
  dir: z.string().min(1),
  timeout: z.coerce.number().int().positive(),
});
type Options = z.infer<typeof Options>;

const repo = fileURLToPath(new URL('../..', import.meta.url));
const operatorMain = join(repo, 'dist/operator/main.js');
const crdDir = join(repo, 'crds');

function say(line: string): void {
  process.stdout.write(`[start] ${line}\n`);
}

export function exampleNetwork(o: Pick<Options, 'name' | 'namespace' | 'replicas'>): string {
  return `apiVersion: peernet.io/v1alpha1
kind: PeerNetwork
metadata:
  name: ${o.name}
  namespace: ${o.namespace}
spec:
  replicas: ${o.replicas}
  topology:
    mode: spread
    spreadPolicy: Preferred
    nodeSelector:
      peernet.io/node-kind: local
`;
}

interface PeerEntry {
  name: string;
  pod: string;
  node?: string;
  ip?: string;
  container?: string;
  ready?: boolean;
  peerId?: string;
}
interface NetworkStatus {
  phase?: string;
  readyPeers?: number;
  peers?: PeerEntry[];
}

async function networkStatus(cluster: Cluster, o: Options): Promise<NetworkStatus> {
  const r = await cluster.kubectl(['-n', o.namespace, 'get', 'peernetwork', o.name, '-o', 'json']);
  if (r.code !== 0) return {};
  return (JSON.parse(r.stdout) as { status?: NetworkStatus }).status ?? {};
}

function apiUrl(peer: PeerEntry): string {
  const index = Number(/(\d+)$/.exec(peer.container ?? 'peer-0')?.[1] ?? 0);
  return `http://${peer.ip ?? ''}:${5001 + index}`;
}

async function waitReady(cluster: Cluster, o: Options, total: number): Promise<NetworkStatus> {
  const deadline = Date.now() + o.timeout * 1000;
  const tty = process.stdout.isTTY;
  let last = '';
  for (;;) {
    const s = await networkStatus(cluster, o);
    const pods = await cluster.kubectl([
      '-n',
      o.namespace,
      'get',
      'pods',
      '-l',
      `app.kubernetes.io/instance=${o.name}`,
      '--no-headers',
      '-o',
      'custom-columns=N:.metadata.name,S:.status.phase,R:.status.containerStatuses[*].ready,NODE:.spec.nodeName',
    ]);
    const podLine = pods.stdout
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const [n, phase, ready, node] = l.split(/\s+/);
        return `${n ?? ''}@${node ?? '?'}:${ready === 'true' ? 'ready' : (phase ?? '?')}`;
      })
      .join(' ');
    const line = `${o.name}: phase ${s.phase ?? '-'}, ready ${s.readyPeers ?? 0}/${total} peers | ${podLine}`;
    if (tty)
      process.stdout.write(
        `\r\x1b[2K[start] ${line.slice(0, (process.stdout.columns || 120) - 10)}`,
      );
    else if (line !== last) say(line);
    last = line;
    if (s.phase === 'Ready' && (s.readyPeers ?? 0) >= total) {
      if (tty) process.stdout.write('\n');
      return s;
    }
    if (Date.now() > deadline) {
      if (tty) process.stdout.write('\n');
      throw new Error(`the network was not Ready after ${o.timeout}s (last: ${line})`);
    }
    await sleep(1000);
  }
}

async function demoRecord(s: NetworkStatus): Promise<void> {
  const peers = (s.peers ?? []).filter((p) => p.ip !== undefined && p.node !== undefined);
  const writer = peers[0];
  const reader = peers.find((p) => p.node !== writer?.node);
  if (writer === undefined || reader === undefined)
    throw new Error('need two peers on two nodes for the demo');
  const key = `hello-${Date.now()}`;
  const value = `written on ${writer.name} (${writer.node})`;
  const put = await fetch(`${apiUrl(writer)}/v1/records/${key}`, { method: 'PUT', body: value });
  say(
    `PUT ${key} on ${writer.name} (node ${writer.node}, ${apiUrl(writer)}): HTTP ${put.status} ${await put.text()}`,
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    const get = await fetch(`${apiUrl(reader)}/v1/records/${key}`).catch(() => undefined);
    if (get?.ok === true) {
      say(
        `GET ${key} on ${reader.name} (node ${reader.node}, ${apiUrl(reader)}): ${JSON.stringify(await get.text())}`,
      );
      return;
    }
    if (Date.now() > deadline)
      throw new Error(`GET ${key} on ${reader.name} did not find the record`);
    await sleep(500);
  }
}

function startOperator(cluster: Cluster, logFile: string): ChildProcess {
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, [operatorMain], {
    env: {
      ...process.env,
      KUBECONFIG: cluster.kubeconfig,
      PEERNET_OPERATOR_LEADER_ELECT: 'false',
      PEERNET_OPERATOR_METRICS_ADDRESS: '127.0.0.1:0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return child;
}

async function stopChild(child: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

async function main(): Promise<void> {
  const program = new Command('npm start')
    .description(
      'local control plane + local nodes running real peers + operator + an example PeerNetwork',
    )
    .option('--nodes <n>', 'local nodes', '3')
    .option('--replicas <n>', 'pods of the example network', '6')
    .option('--name <name>', 'the example network', 'demo')
    .option('--namespace <ns>', 'its namespace', 'default')
    .option('--dir <dir>', 'the cluster folder', '.cluster')
    .option('--timeout <s>', 'seconds to wait for Ready', '300')
    .parse();
  const o = Options.parse(program.opts());
  if (process.getuid?.() !== 0) {
    say(
      'WARNING: not root, so the local nodes use the LOOPBACK FALLBACK (a 127.x address per pod, no network namespaces, no mDNS); run `sudo npm start` for the real thing',
    );
  }

  let cluster: Cluster | undefined;
  let ownCluster = false;
  let nodes: LocalNodes | undefined;
  let operator: ChildProcess | undefined;
  let stopping = false;
  const stopAll = async (code: number): Promise<never> => {
    if (stopping) return process.exit(code);
    stopping = true;
    say('stopping: operator, local nodes (peers, namespaces, bridges, routes), control plane ...');
    await stopChild(operator, 10_000).catch(() => undefined);
    if (!ownCluster && cluster !== undefined) {
      await cluster
        .kubectl(['-n', o.namespace, 'delete', 'peernetwork', o.name, '--wait=false'])
        .catch(() => undefined);
    }
    await nodes?.stop().catch((err: unknown) => say(`local nodes: ${String(err)}`));
    if (ownCluster) await cluster?.stop().catch((err: unknown) => say(`cluster: ${String(err)}`));
    say('stopped; nothing left running');
    return process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    cluster = findRunningCluster(o.dir);
    if (cluster !== undefined) {
      say(`reusing the control plane running in ${o.dir} (${cluster.server})`);
    } else {
      say(
        `starting the local control plane in ${o.dir} (first run builds the servers from Go modules: minutes)`,
      );
      cluster = await startCluster({ dir: o.dir, nodes: 0 }, { onProgress: (l) => say(`  ${l}`) });
      ownCluster = true;
      say(`control plane up: ${cluster.server}`);
    }
    const apply = await cluster.kubectl([
      'apply',
      '--server-side',
      '--force-conflicts',
      '-f',
      crdDir,
    ]);
    if (apply.code !== 0) throw new Error(`kubectl apply -f crds/: ${apply.stderr}`);
    await cluster.kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/peernetworks.peernet.io',
    ]);

    mkdirSync(join(o.dir, 'localnode'), { recursive: true });
    const logger = pino(
      { name: 'peernet:localnode' },
      pino.destination(join(o.dir, 'localnode', 'runtime.log')),
    );
    say(
      `starting ${o.nodes} local nodes (a kubelet stand-in for development: pods run as processes in network namespaces; log ${o.dir}/localnode/runtime.log)`,
    );
    nodes = await startLocalNodes({
      kubeconfig: cluster.kubeconfig,
      nodes: o.nodes,
      stateDir: join(o.dir, 'localnode'),
      logger,
    });
    say(`local nodes: ${nodes.nodes.join(', ')}`);

    const opLog = join(o.dir, 'operator.log');
    operator = startOperator(cluster, opLog);
    say(`operator running (pid ${operator.pid ?? '?'}, log ${opLog})`);

    const manifest = exampleNetwork(o);
    say(`applying the example network:\n${manifest.replace(/^/gm, '    ')}`);
    const applied = await cluster.kubectl(['apply', '-f', '-'], { input: manifest });
    if (applied.code !== 0) throw new Error(`kubectl apply: ${applied.stderr}`);
    const t0 = Date.now();
    const status = await waitReady(cluster, o, o.replicas);
    say(`Ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    await demoRecord(status);

    const pn = await cluster.kubectl(['-n', o.namespace, 'get', 'peernetworks']);
    process.stdout.write(`\n$ kubectl get peernetworks\n${pn.stdout}`);
    const pods = await cluster.kubectl(['-n', o.namespace, 'get', 'pods', '-o', 'wide']);
    process.stdout.write(`\n$ kubectl get pods -o wide\n${pods.stdout}\n`);
    say(
      `kubectl: export KUBECONFIG=${cluster.kubeconfig}; ${cluster.binaries.kubectl} get pn,pods -o wide`,
    );
    say(
      `talk to a peer: npm run -s peer -- ${status.peers?.[0]?.pod ?? `${o.name}-0`} status   (or peerctl --api ${status.peers?.[0] !== undefined ? apiUrl(status.peers[0]) : 'http://<pod IP>:5001'} status)`,
    );
    say(`peer logs: ${o.dir}/localnode/logs/<namespace>_<pod>_<container>.log`);
    say('running; press Ctrl-C to stop everything');
  } catch (err) {
    if (process.stdout.isTTY) process.stdout.write('\n');
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    await stopAll(1);
  }
}

void main();
