// spec.storage on real nodes: a PersistentVolumeClaim per pod, bound by the local cluster's real
// dynamic provisioner (rancher's local-path-provisioner), mounted at the peers' data directory.
// 1,000 records survive the network scaled to 0 and back, and every pod deleted at once; the
// retention policy deletes (or keeps) the claims and, through the provisioner, their volumes.
import { describe, expect, test } from '@jest/globals';
import { mapLimit } from '../../common/concurrency.js';
import { putRecord, unreadableRecords, useRealStack, waitUntil } from './stack.js';

const stack = useRealStack('e2e-storage');
const RECORDS = 1000;

interface Claim {
  metadata: { name: string; uid: string; ownerReferences?: unknown[] };
  spec: { volumeName?: string; storageClassName?: string };
  status?: { phase?: string };
}
interface Volume {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { claimRef?: { name: string; namespace: string } };
}

async function claimsOf(network: string): Promise<Claim[]> {
  const claims = await stack.childrenOf<Claim>('pvc', network);
  return claims.sort((x, y) => x.metadata.name.localeCompare(y.metadata.name));
}

/** The PersistentVolumes bound to this file's claims. */
async function volumes(): Promise<Volume[]> {
  const out = await stack.t.kubectlOk(['get', 'pv', '-o', 'json']);
  return (JSON.parse(out) as { items: Volume[] }).items.filter(
    (v) => v.spec.claimRef?.namespace === stack.namespace,
  );
}

async function podUids(network: string): Promise<string[]> {
  const pods = await stack.childrenOf<{ metadata: { uid: string } }>('pods', network);
  return pods.map((p) => p.metadata.uid);
}

async function scale(network: string, replicas: number): Promise<void> {
  await stack.t.kubectlOk(['scale', 'peernetwork', network, `--replicas=${replicas}`]);
}

describe('spec.storage', () => {
  test('1,000 records survive the network scaled to 0 and back, and all its pods deleted at once', async () => {
    const name = 'durable';
    await stack.apply(
      stack.network(name, {
        replicas: 3,
        mode: 'spread',
        spreadPolicy: 'Preferred',
        extra: { storage: { size: '64Mi' } },
      }),
    );
    let status = await stack.waitReady(name, 3);

    // a claim per pod, bound by the provisioner to a volume of the default class
    const claims = await claimsOf(name);
    expect(claims.map((c) => c.metadata.name)).toEqual([
      'durable-0-data',
      'durable-1-data',
      'durable-2-data',
    ]);
    for (const c of claims) {
      expect(c.status?.phase).toBe('Bound');
      expect(c.spec.storageClassName).toBe('local-path');
      expect(c.metadata.ownerReferences).toBeUndefined(); // retained by default
    }
    const bound = await volumes();
    expect(bound.map((v) => v.metadata.name).sort()).toEqual(
      claims.map((c) => c.spec.volumeName).sort(),
    );
    for (const v of bound)
      expect(v.metadata.annotations?.['pv.kubernetes.io/provisioned-by']).toBe(
        'rancher.io/local-path',
      );

    const peers = status.peers!;
    const records = new Map<string, string>();
    for (let i = 0; i < RECORDS; i++) records.set(`durable-${i}`, `value ${i}`);
    await mapLimit([...records], 8, async ([key, value], i) => {
      await putRecord(peers[i % peers.length]!, key, value);
    });

    // scaled to 0: every pod gone, the claims stay (whenScaled Retain)
    await scale(name, 0);
    await waitUntil(async () => (await podUids(name)).length === 0, 180_000, 'every pod gone');
    expect((await claimsOf(name)).map((c) => c.metadata.uid)).toEqual(
      claims.map((c) => c.metadata.uid),
    );
    await scale(name, 3);
    status = await stack.waitReady(name, 3);
    expect(await unreadableRecords(status.peers!, records)).toEqual([]);

    // every pod deleted at once: they come back on their volumes
    const before = await podUids(name);
    await stack.t.kubectlOk([
      'delete',
      'pods',
      '-l',
      `app.kubernetes.io/instance=${name}`,
      '--wait=false',
    ]);
    await waitUntil(
      async () => {
        const now = await podUids(name);
        return now.length === 3 && now.every((u) => !before.includes(u));
      },
      180_000,
      'three new pods',
    );
    status = await stack.waitReady(name, 3);
    expect(await unreadableRecords(status.peers!, records)).toEqual([]);
    expect((await claimsOf(name)).map((c) => c.metadata.uid)).toEqual(
      claims.map((c) => c.metadata.uid),
    );
  }, 1_200_000);

  test('retention Delete: a claim goes with its pod scaled away, the rest with the network, and their volumes with them', async () => {
    const name = 'ephemeral';
    await stack.apply(
      stack.network(name, {
        replicas: 2,
        mode: 'spread',
        spreadPolicy: 'Preferred',
        extra: {
          storage: { size: '16Mi', retention: { whenScaled: 'Delete', whenDeleted: 'Delete' } },
        },
      }),
    );
    await stack.waitReady(name, 2);
    const claims = await claimsOf(name);
    expect(claims.map((c) => c.metadata.name)).toEqual(['ephemeral-0-data', 'ephemeral-1-data']);
    for (const c of claims) expect(c.metadata.ownerReferences).toHaveLength(1);
    const volumeOf = (claim: string) =>
      claims.find((c) => c.metadata.name === claim)!.spec.volumeName;

    await scale(name, 1);
    await waitUntil(
      async () => {
        const names = (await claimsOf(name)).map((c) => c.metadata.name);
        const vols = (await volumes()).map((v) => v.metadata.name);
        return (
          names.join() === 'ephemeral-0-data' &&
          !vols.includes(volumeOf('ephemeral-1-data')!) &&
          vols.includes(volumeOf('ephemeral-0-data')!)
        );
      },
      180_000,
      'the claim of ephemeral-1 and its volume deleted, ephemeral-0 kept',
    );

    await stack.t.kubectlOk(['delete', 'peernetwork', name, '--wait=true', '--timeout=120s']);
    await waitUntil(
      async () =>
        (await claimsOf(name)).length === 0 &&
        !(await volumes()).some((v) => v.metadata.name === volumeOf('ephemeral-0-data')),
      180_000,
      'the last claim and its volume deleted with the network',
    );
  }, 600_000);
});
