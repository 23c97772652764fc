#!/usr/bin/env node
// `npm start`: the whole thing on one machine, as a user deploys it. The images built from our
// Dockerfiles, a local control plane with real nodes (kubelet, containerd, kube-proxy, CoreDNS;
// needs root), the operator installed with `helm install` from charts/, and an example spread
// PeerNetwork; waits for Ready, writes a record on a peer of one node and reads it on a peer of
// another, prints `kubectl get peernetworks`, pods and nodes, and runs until Ctrl-C, then stops
// it all: nothing stays behind, also when stdout is a pipe that closed first.
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import { z } from 'zod';
import type { V1Secret } from '@kubernetes/client-node';
import { buildImages } from '../cluster/images/index.js';
import { findRunningCluster, startCluster, type Cluster } from '../cluster/index.js';
import type { PeerNetworkStatus, PeerStatus } from '../operator/api/schema.js';
import { apiTokenOf } from '../operator/pods/children.js';
import { apiTokenSecretName } from '../operator/pods/names.js';
import { networkReady, peerApiUrl, reachablePeers } from '../operator/status/view.js';
import { createPeerApiClient } from '../peer/api/client.js';

const Options = z.object({
  nodes: z.coerce.number().int().min(2).max(20),
  replicas: z.coerce.number().int().min(2).max(200),
  name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/),
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/),
  dir: z.string().min(1),
  timeout: z.coerce.number().int().positive(),
});
type Options = z.infer<typeof Options>;

const chart = fileURLToPath(new URL('../../charts/peernet-operator', import.meta.url));
const OPERATOR_NAMESPACE = 'peernet-system';

// A reader that went away (`npm start | head`, a closed terminal) must not stop the cleanup.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

function say(line: string): void {
  try {
    process.stdout.write(`[start] ${line}\n`);
  } catch {
    // stdout is gone
  }
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
      peernet.io/node-kind: real
`;
}

async function networkStatus(cluster: Cluster, o: Options): Promise<PeerNetworkStatus> {
  const r = await cluster.kubectl(['-n', o.namespace, 'get', 'peernetwork', o.name, '-o', 'json']);
  if (r.code !== 0) return {};
  return (JSON.parse(r.stdout) as { status?: PeerNetworkStatus }).status ?? {};
}

/** The API URL of a peer that has an IP. */
const apiUrl = (peer: PeerStatus): string => peerApiUrl(peer) ?? '';

async function waitReady(cluster: Cluster, o: Options, total: number): Promise<PeerNetworkStatus> {
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
    if (networkReady(s, total)) {
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

/** The network's API token (Secret `<name>-api-token`): writes need it. */
async function apiToken(cluster: Cluster, o: Options): Promise<string> {
  const name = apiTokenSecretName(o.name);
  const r = await cluster.kubectl(['-n', o.namespace, 'get', 'secret', name, '-o', 'json']);
  if (r.code !== 0) throw new Error(`read the API token Secret: ${r.stderr.trim()}`);
  const token = apiTokenOf(JSON.parse(r.stdout) as V1Secret);
  if (token === undefined) throw new Error(`no API token in Secret ${name}`);
  return token;
}

async function demoRecord(s: PeerNetworkStatus, token: string): Promise<void> {
  const peers = reachablePeers(s.peers ?? []).filter((p) => p.node !== '');
  const writer = peers[0];
  const reader = peers.find((p) => p.node !== writer?.node);
  if (writer === undefined || reader === undefined)
    throw new Error('need two peers on two nodes for the demo');
  const key = `hello-${Date.now()}`;
  const value = `written on ${writer.name} (${writer.node})`;
  const put = await createPeerApiClient({ baseUrl: apiUrl(writer), token, timeoutMs: 30_000 }).put(
    key,
    value,
  );
  say(
    `PUT ${key} on ${writer.name} (node ${writer.node}, ${apiUrl(writer)}): HTTP 200 ${JSON.stringify(put)}`,
  );
  const deadline = Date.now() + 30_000;
  const from = createPeerApiClient({ baseUrl: apiUrl(reader), timeoutMs: 10_000 });
  for (;;) {
    const got = await from.get(key).catch(() => undefined);
    if (got !== undefined) {
      say(
        `GET ${key} on ${reader.name} (node ${reader.node}, ${apiUrl(reader)}): ${JSON.stringify(new TextDecoder().decode(got.value))}`,
      );
      return;
    }
    if (Date.now() > deadline)
      throw new Error(`GET ${key} on ${reader.name} did not find the record`);
    await sleep(500);
  }
}

// Long: `npm start`'s steps in the order a user sees them.
async function main(): Promise<void> {
  const program = new Command('npm start')
    .description(
      'images + local control plane with real nodes + the operator from its chart + an example PeerNetwork',
    )
    .option('--nodes <n>', 'real nodes', '3')
    .option('--replicas <n>', 'pods of the example network', '6')
    .option('--name <name>', 'the example network', 'demo')
    .option('--namespace <ns>', 'its namespace', 'default')
    .option('--dir <dir>', 'the cluster folder', '.cluster')
    .option('--timeout <s>', 'seconds to wait for Ready', '300')
    .parse();
  const o = Options.parse(program.opts());
  if (process.getuid?.() !== 0) {
    say('real nodes need root (network namespaces, cgroups, mounts): run `sudo npm start`');
    process.exit(1);
  }

  let cluster: Cluster | undefined;
  let ownCluster = false;
  let stopping = false;
  let stopped = false;
  const stopAll = async (code: number): Promise<never> => {
    if (stopping) return process.exit(code);
    stopping = true;
    say(
      'stopping: real nodes (containers, namespaces, mounts, cgroups), CoreDNS, control plane ...',
    );
    if (!ownCluster && cluster !== undefined) {
      await cluster
        .kubectl(['-n', o.namespace, 'delete', 'peernetwork', o.name, '--wait=false'])
        .catch(() => undefined);
      await cluster.helm(['uninstall', 'peernet', '-n', OPERATOR_NAMESPACE]).catch(() => undefined);
    }
    if (ownCluster) await cluster?.stop().catch((err: unknown) => say(`cluster: ${String(err)}`));
    stopped = true;
    say('stopped; nothing left running');
    return process.exit(code);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(sig, () => void stopAll(0));
  // last resort (a crash, process.exit elsewhere): kill and clean up synchronously
  process.on('exit', () => {
    if (ownCluster && !stopped) cluster?.killNow();
  });

  try {
    say(
      'building the images from Dockerfile.peer and Dockerfile.operator (cached: seconds when unchanged)',
    );
    const images = await buildImages({ onProgress: (l) => say(`  ${l}`) });
    cluster = findRunningCluster(o.dir);
    if (cluster !== undefined) {
      say(`reusing the control plane running in ${o.dir} (${cluster.server})`);
    } else {
      say(
        `starting the local control plane and ${o.nodes} real nodes in ${o.dir} (the first run builds them from Go modules: minutes)`,
      );
      ownCluster = true;
      cluster = await startCluster(
        {
          dir: o.dir,
          nodes: 0,
          realNodes: o.nodes,
          images: [images.peer.archive, images.operator.archive],
        },
        { onProgress: (l) => say(`  ${l}`) },
      );
      say(`control plane up: ${cluster.server}`);
    }

    say(`helm install peernet charts/peernet-operator -n ${OPERATOR_NAMESPACE}`);
    const installed = await cluster.helm([
      'upgrade',
      '--install',
      'peernet',
      chart,
      '--namespace',
      OPERATOR_NAMESPACE,
      '--create-namespace',
      '--set',
      'leaderElection.enabled=false',
      '--wait',
      '--timeout',
      '180s',
    ]);
    if (installed.code !== 0) throw new Error(`helm install: ${installed.stderr}`);
    say(
      'operator running in the cluster (kubectl -n peernet-system logs deploy/peernet-peernet-operator)',
    );

    const manifest = exampleNetwork(o);
    say(`applying the example network:\n${manifest.replace(/^/gm, '    ')}`);
    const applied = await cluster.kubectl(['apply', '-f', '-'], { input: manifest });
    if (applied.code !== 0) throw new Error(`kubectl apply: ${applied.stderr}`);
    const t0 = Date.now();
    const status = await waitReady(cluster, o, o.replicas);
    say(`Ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    await demoRecord(status, await apiToken(cluster, o));

    for (const args of [
      ['-n', o.namespace, 'get', 'peernetworks'],
      ['-n', o.namespace, 'get', 'pods', '-o', 'wide'],
      ['get', 'nodes', '-o', 'wide'],
    ]) {
      const r = await cluster.kubectl(args);
      say(`$ kubectl ${args.join(' ')}\n${r.stdout}`);
    }
    const pod = status.peers?.[0]?.pod ?? `${o.name}-0`;
    say(
      `kubectl: export KUBECONFIG=${cluster.kubeconfig}; ${cluster.binaries.kubectl} get pn,pods -o wide`,
    );
    say(`talk to a peer: kubectl exec ${pod} -- peerctl status   (logs: kubectl logs ${pod})`);
    say('running; press Ctrl-C to stop everything');
    // nothing else keeps this process alive now: wait for a signal
    setInterval(() => undefined, 1 << 30);
  } catch (err) {
    if (process.stdout.isTTY) process.stdout.write('\n');
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    await stopAll(1);
  }
}

void main();
