// The operator, in-process with its real components, against the real control plane: for each
// topology mode an example is applied with kubectl; the operator makes the children, the real
// scheduler places the pods, kwok runs them, and the PeerNetwork reports Ready. Then identity
// across pod deletion, kubectl scale up and down, and deletion through garbage collection.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { parse, stringify } from 'yaml';
import type { PeerNetworkStatus } from '../../operator/api/schema.js';
import { kubeAccessFromClientNode } from '../../operator/kube/config.js';
import { createLogger } from '../../operator/logger.js';
import { createOperator, type Operator } from '../../operator/operator.js';
import { parseSettings } from '../../operator/settings.js';
import { applyCrds } from '../helpers/cluster-crd.js';
import { useCluster, waitUntil } from '../helpers/cluster.js';

const env = useCluster('op-modes');
let operator: Operator | undefined;

interface Obj {
  metadata: {
    name: string;
    uid: string;
    labels?: Record<string, string>;
    ownerReferences?: {
      uid: string;
      controller?: boolean;
      blockOwnerDeletion?: boolean;
      kind: string;
    }[];
  };
  spec?: { nodeName?: string; containers?: { name: string }[] };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
  data?: Record<string, string>;
}
interface PeerNetworkObj {
  metadata: { name: string; uid: string; generation: number };
  status?: PeerNetworkStatus;
}

const example = (file: string) =>
  fileURLToPath(new URL(`../../../examples/${file}`, import.meta.url));

async function getJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await env.kubectlOk([...args, '-o', 'json'])) as T;
}
const network = (name: string) => getJson<PeerNetworkObj>(['get', 'peernetwork', name]);
const podsOf = async (name: string) =>
  (await getJson<{ items: Obj[] }>(['get', 'pods', '-l', `app.kubernetes.io/instance=${name}`]))
    .items;

/** kubectl apply of an example, pinned to kwok's fake nodes, with `edit` applied. */
async function applyExample(
  file: string,
  edit: (doc: {
    metadata: { name: string };
    spec: Record<string, unknown> & { topology: Record<string, unknown> };
  }) => void = () => {},
): Promise<string> {
  const doc = parse(await readFile(example(file), 'utf8')) as {
    metadata: { name: string };
    spec: Record<string, unknown> & { topology: Record<string, unknown> };
  };
  doc.spec.topology.nodeSelector = { 'peernet.io/node-kind': 'kwok' };
  edit(doc);
  await env.kubectlOk(['apply', '-f', '-'], { input: stringify(doc) });
  return doc.metadata.name;
}

async function waitPhase(name: string, phase: string, timeoutMs = 60_000): Promise<PeerNetworkObj> {
  let last: PeerNetworkObj | undefined;
  await waitUntil(
    async () => {
      last = await network(name);
      return (
        last.status?.phase === phase && last.status.observedGeneration === last.metadata.generation
      );
    },
    timeoutMs,
    `PeerNetwork ${name} phase ${phase}`,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; status: ${JSON.stringify(last?.status?.conditions)}`);
  });
  return last!;
}

function expectOwnedChild(o: Obj, owner: PeerNetworkObj): void {
  expect(o.metadata.labels).toMatchObject({
    'app.kubernetes.io/name': 'peernet',
    'app.kubernetes.io/instance': owner.metadata.name,
    'app.kubernetes.io/managed-by': 'peernet-operator',
  });
  expect(o.metadata.ownerReferences).toEqual([
    expect.objectContaining({
      kind: 'PeerNetwork',
      uid: owner.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    }),
  ]);
}

let kwokNodes = 0;

beforeAll(async () => {
  await applyCrds(env.cluster);
  const nodes = await env.kubectlOk([
    'get',
    'nodes',
    '-l',
    'peernet.io/node-kind=kwok',
    '-o',
    'name',
  ]);
  kwokNodes = nodes.trim().split('\n').filter(Boolean).length;
  const settings = parseSettings(
    [
      '--namespaces',
      env.namespace,
      '--leader-elect',
      'false',
      '--metrics-address',
      '127.0.0.1:0',
      '--progressing-requeue-seconds',
      '2',
    ],
    {},
  );
  operator = createOperator(
    { access: await kubeAccessFromClientNode(env.kubeConfig), logger: createLogger('warn') },
    settings,
  );
  await operator.start();
  await waitUntil(() => operator!.synced(), 30_000, 'the operator caches');
}, 120_000);

afterAll(async () => {
  await operator?.stop();
}, 60_000);

describe('PeerNetwork topology modes', () => {
  test('colocated: every child made and owned, pods on one node, peersPerPod containers, Ready', async () => {
    const name = await applyExample('colocated.yaml');
    const pn = await waitPhase(name, 'Ready');
    expect(pn.status?.readyText).toBe('6/6');
    const pods = await podsOf(name);
    expect(pods.map((p) => p.metadata.name).sort()).toEqual([`${name}-0`, `${name}-1`]);
    for (const p of pods) {
      expectOwnedChild(p, pn);
      expect(p.spec?.containers?.map((c) => c.name)).toEqual(['peer-0', 'peer-1', 'peer-2']);
    }
    expect(new Set(pods.map((p) => p.spec?.nodeName)).size).toBe(1);
    const keys = await getJson<Obj>(['get', 'secret', `${name}-keys`]);
    const svc = await getJson<
      Obj & { spec: { clusterIP: string; publishNotReadyAddresses: boolean } }
    >(['get', 'service', `${name}-peers`]);
    const cm = await getJson<Obj>(['get', 'configmap', `${name}-bootstrap`]);
    const token = await getJson<Obj>(['get', 'secret', `${name}-api-token`]);
    for (const o of [keys, token, svc, cm]) expectOwnedChild(o, pn);
    expect(Object.keys(keys.data ?? {}).sort()).toEqual(
      [0, 1].flatMap((o) => [0, 1, 2].map((i) => `${name}-${o}-${i}.key`)).sort(),
    );
    expect(svc.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    const lines = (cm.data?.['bootstrap.txt'] ?? '').split('\n').filter((l) => l.startsWith('/'));
    expect(lines).toHaveLength(6);
    expect(lines).toEqual(pn.status?.bootstrap);
    expect(lines[1]).toMatch(
      new RegExp(
        `^/dns4/${name}-0\\.${name}-peers\\.${env.namespace}\\.svc\\.cluster\\.local/tcp/4002/p2p/12D3KooW`,
      ),
    );
    const table = await env.kubectlOk(['get', 'peernetworks']);
    expect(table).toMatch(/NAME\s+MODE\s+READY\s+PHASE\s+AGE/);
    expect(table).toMatch(new RegExp(`${name}\\s+colocated\\s+6/6\\s+Ready`));
  }, 120_000);

  test('sameNode: all pods on one node; kubectl wait --for=condition=Ready returns', async () => {
    const name = await applyExample('samenode.yaml');
    await env.kubectlOk(['wait', '--for=condition=Ready', `peernetwork/${name}`, '--timeout=60s']);
    const pods = await podsOf(name);
    expect(pods).toHaveLength(3);
    expect(new Set(pods.map((p) => p.spec?.nodeName)).size).toBe(1);
    const pn = await network(name);
    expect(pn.status?.peers?.map((p) => p.node)).toEqual(pods.map(() => pods[0]!.spec?.nodeName));
    expect(pn.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'True',
      observedGeneration: pn.metadata.generation,
    });
  }, 120_000);

  test('spread: no two pods on one node; with more pods than nodes under Required the extras stay Pending and the status says so', async () => {
    const name = await applyExample('spread.yaml', (d) => (d.spec.replicas = kwokNodes));
    const pn = await waitPhase(name, 'Ready');
    expect(pn.status?.readyText).toBe(`${kwokNodes}/${kwokNodes}`);
    let pods = await podsOf(name);
    expect(new Set(pods.map((p) => p.spec?.nodeName)).size).toBe(kwokNodes);

    await env.kubectlOk(['scale', `peernetwork/${name}`, `--replicas=${kwokNodes + 2}`]);
    await waitPhase(name, 'Degraded');
    // the scheduler reports the two extra pods one after the other
    let degraded = await network(name);
    await waitUntil(
      async () => {
        degraded = await network(name);
        const msg = degraded.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '';
        return degraded.status?.phase === 'Degraded' && msg.startsWith('2 pod(s)');
      },
      60_000,
      'both extra pods reported unschedulable',
    );
    const ready = degraded.status!.conditions!.find((c) => c.type === 'Ready')!;
    expect(ready).toMatchObject({ status: 'False', reason: 'Unschedulable' });
    expect(ready.message).toMatch(/2 pod\(s\) cannot be scheduled/);
    expect(degraded.status?.readyText).toBe(`${kwokNodes}/${kwokNodes + 2}`);
    pods = await podsOf(name);
    const pending = pods.filter((p) => p.status?.phase === 'Pending');
    expect(pending).toHaveLength(2);
    for (const p of pending) {
      expect(p.status?.conditions?.find((c) => c.type === 'PodScheduled')).toMatchObject({
        status: 'False',
        reason: 'Unschedulable',
      });
    }
    await env.kubectlOk(['scale', `peernetwork/${name}`, `--replicas=${kwokNodes}`]);
    await waitPhase(name, 'Ready');
  }, 180_000);
});

describe('identity, scaling and deletion', () => {
  const name = 'life';

  test('a deleted pod comes back with the same peer ID', async () => {
    await applyExample('spread.yaml', (d) => {
      d.metadata.name = name;
      d.spec.replicas = 2;
      d.spec.topology.spreadPolicy = 'Preferred';
    });
    const before = await waitPhase(name, 'Ready');
    const oldPod = (await podsOf(name)).find((p) => p.metadata.name === `${name}-1`)!;
    await env.kubectlOk(['delete', 'pod', `${name}-1`, '--wait=false']);
    await waitUntil(
      async () => {
        const p = (await podsOf(name)).find((x) => x.metadata.name === `${name}-1`);
        return p !== undefined && p.metadata.uid !== oldPod.metadata.uid;
      },
      60_000,
      'pod life-1 recreated',
    );
    const after = await waitPhase(name, 'Ready');
    expect(after.status?.peers?.map((p) => p.peerId)).toEqual(
      before.status?.peers?.map((p) => p.peerId),
    );
    expect(after.status?.bootstrap).toEqual(before.status?.bootstrap);
  }, 120_000);

  test('kubectl scale up and down: pods and the bootstrap ConfigMap follow, kept peers keep their IDs', async () => {
    const before = await network(name);
    const bootstrapLines = async () =>
      (
        (await getJson<Obj>(['get', 'configmap', `${name}-bootstrap`])).data?.['bootstrap.txt'] ??
        ''
      )
        .split('\n')
        .filter((l) => l.startsWith('/'));
    await env.kubectlOk(['scale', `peernetwork/${name}`, '--replicas=5']);
    const up = await waitPhase(name, 'Ready');
    expect(up.status?.readyText).toBe('5/5');
    expect((await podsOf(name)).map((p) => p.metadata.name).sort()).toEqual(
      [0, 1, 2, 3, 4].map((o) => `${name}-${o}`),
    );
    await waitUntil(
      async () => (await bootstrapLines()).length === 5,
      30_000,
      'bootstrap with 5 lines',
    );
    expect(up.status?.peers?.slice(0, 2).map((p) => p.peerId)).toEqual(
      before.status?.peers?.map((p) => p.peerId),
    );

    await env.kubectlOk(['scale', `peernetwork/${name}`, '--replicas=1']);
    const down = await waitPhase(name, 'Ready');
    expect(down.status?.readyText).toBe('1/1');
    await waitUntil(async () => (await podsOf(name)).length === 1, 60_000, 'one pod left');
    await waitUntil(
      async () => (await bootstrapLines()).length === 1,
      30_000,
      'bootstrap with 1 line',
    );
    expect(await bootstrapLines()).toEqual(up.status?.bootstrap?.slice(0, 1));
  }, 180_000);

  test('deleting the PeerNetwork removes every child through garbage collection', async () => {
    await env.kubectlOk(['delete', 'peernetwork', name, '--wait=true', '--timeout=60s']);
    await waitUntil(
      async () => {
        const out = await env.kubectlOk([
          'get',
          'pods,secrets,configmaps,services',
          '-l',
          `app.kubernetes.io/instance=${name}`,
          '-o',
          'name',
        ]);
        return out.trim() === '';
      },
      90_000,
      'the children of life to be garbage collected',
    );
  }, 150_000);
});

describe('optional children', () => {
  test('a PodDisruptionBudget and a NetworkPolicy while the spec asks for them', async () => {
    const name = await applyExample('private.yaml', (d) => {
      d.metadata.name = 'extras';
      d.spec.podDisruptionBudget = { maxUnavailable: 2 };
      d.spec.networkPolicy = {};
    });
    const pn = await waitPhase(name, 'Ready');
    const pdb = await getJson<Obj & { spec: { maxUnavailable: number } }>([
      'get',
      'poddisruptionbudget',
      name,
    ]);
    const np = await getJson<Obj>(['get', 'networkpolicy', name]);
    const swarm = await getJson<Obj>(['get', 'secret', `${name}-swarm`]);
    for (const o of [pdb, np, swarm]) expectOwnedChild(o, pn);
    expect(pdb.spec.maxUnavailable).toBe(2);
    expect(Buffer.from(swarm.data?.['swarm.key'] ?? '', 'base64').toString()).toMatch(
      /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/,
    );
    await env.kubectlOk([
      'patch',
      'peernetwork',
      name,
      '--type=json',
      '-p',
      '[{"op":"remove","path":"/spec/podDisruptionBudget"}]',
    ]);
    await waitUntil(
      async () => (await env.kubectl(['get', 'poddisruptionbudget', name])).code !== 0,
      30_000,
      'the PodDisruptionBudget removed',
    );
    expect((await env.kubectl(['get', 'networkpolicy', name])).code).toBe(0);
  }, 120_000);
});

describe('a foreign object by a child name', () => {
  test.each([
    { kind: 'Secret', create: ['secret', 'generic'], suffix: 'keys', name: 'foreign-secret' },
    {
      kind: 'Secret',
      create: ['secret', 'generic'],
      suffix: 'api-token',
      name: 'foreign-token',
    },
    { kind: 'ConfigMap', create: ['configmap'], suffix: 'bootstrap', name: 'foreign-cm' },
  ])(
    'a $kind the network did not make is neither mounted nor changed: Failed, no pods, then Ready once it is gone',
    async ({ kind, create, suffix, name }) => {
      const child = `${name}-${suffix}`;
      const resource = kind.toLowerCase();
      // someone else's object, without our label, by the name of one the pods would mount
      await env.kubectlOk(['create', ...create, child, '--from-literal=owner=someone-else']);
      await applyExample('spread.yaml', (d) => {
        d.metadata.name = name;
        d.spec.replicas = 2;
      });
      const failed = await waitPhase(name, 'Failed');
      const cond = failed.status?.conditions?.find((c) => c.reason === 'ForeignObject');
      expect(cond?.message).toContain(`${kind} ${child}`);
      // no pod mounts it: none was made (ownership is checked before any pod goes out)
      expect(await podsOf(name)).toHaveLength(0);
      const events = await getJson<{ items: { reason: string }[] }>([
        'get',
        'events',
        '--field-selector',
        `involvedObject.name=${name},involvedObject.kind=PeerNetwork`,
      ]);
      expect(events.items.map((e) => e.reason)).toContain('ForeignObject');
      expect(events.items.map((e) => e.reason)).not.toContain('CreatedPods');
      const foreign = await getJson<Obj>(['get', resource, child]);
      expect(foreign.metadata.ownerReferences).toBeUndefined();
      expect(foreign.data).toEqual({
        owner: kind === 'Secret' ? 'c29tZW9uZS1lbHNl' : 'someone-else',
      });

      await env.kubectlOk(['delete', resource, child]);
      const pn = await waitPhase(name, 'Ready');
      expectOwnedChild(await getJson<Obj>(['get', resource, child]), pn);
      expect(await podsOf(name)).toHaveLength(2);
    },
    120_000,
  );
});
