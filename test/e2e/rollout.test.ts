// A rolling image change on real nodes: spec.image set to another tag of the peer image (tagged
// in every node's containerd, as if pushed to a registry) replaces every pod, one at a time,
// and the network stays readable throughout.
import { describe, expect, test } from '@jest/globals';
import {
  getRecord,
  putRecord,
  PEER_IMAGE,
  useRealStack,
  waitUntil,
  type PeerStatusEntry,
} from './stack.js';
import { reachablePeers } from '../../operator/status/view.js';

const stack = useRealStack('e2e-rollout');
const NEXT_IMAGE = `${PEER_IMAGE}-b`;
/** errors of a peer that is not there (any more): its pod went away between two reads */
const GONE = ['PeerUnreachableError', 'PeerTimeoutError'];

interface PodView {
  metadata: { name: string; uid: string };
  spec: { containers: Array<{ image: string }> };
  status: { containerStatuses?: Array<{ ready: boolean }> };
}

async function pods(): Promise<PodView[]> {
  const out = await stack.t.kubectlOk([
    'get',
    'pods',
    '-l',
    'app.kubernetes.io/instance=roll',
    '-o',
    'json',
  ]);
  return (JSON.parse(out) as { items: PodView[] }).items;
}

describe('rolling image change on real nodes', () => {
  test('spec.image changed: every pod is replaced, the network stays readable', async () => {
    // The second tag, in every node's image store (no registry here).
    for (const node of stack.t.cluster.realNodes) {
      await stack.ctr(node, ['images', 'tag', '--force', PEER_IMAGE, NEXT_IMAGE]);
    }
    const roll = (image?: string): string =>
      stack.network('roll', {
        replicas: 3,
        mode: 'spread',
        spreadPolicy: 'Preferred',
        extra: image !== undefined ? { image } : {},
      });
    await stack.apply(roll());
    const before = await stack.waitReady('roll', 3);
    const peers = before.peers ?? [];
    const ids = new Map(peers.map((p) => [p.name, p.peerId]));
    const oldUids = new Set((await pods()).map((p) => p.metadata.uid));
    for (const p of await pods()) expect(p.spec.containers[0]?.image).not.toBe(NEXT_IMAGE);
    for (let i = 0; i < 9; i++)
      await putRecord(peers[i % peers.length] as PeerStatusEntry, `r${i}`, `v${i}`);

    await stack.apply(roll(NEXT_IMAGE));
    // Read the records from whichever peers are ready while the pods are replaced; at most one
    // pod is down at a time, so every record stays readable.
    const failures: string[] = [];
    let notReadyAtOnce = 0;
    await waitUntil(
      async () => {
        const s = await stack.status('roll');
        const ready = reachablePeers(s.peers ?? []);
        notReadyAtOnce = Math.max(notReadyAtOnce, 3 - ready.length);
        for (let i = 0; i < 9; i++) {
          const reader = ready[i % Math.max(1, ready.length)];
          if (reader === undefined) break;
          const got = await getRecord(reader, `r${i}`).catch((err: Error) => err);
          // a peer whose pod went away between the status read and the GET is not a failure
          const gone = got instanceof Error && GONE.includes(got.name);
          if (got !== `v${i}` && !gone) failures.push(`r${i} on ${reader.name}: ${String(got)}`);
        }
        const now = await pods();
        return (
          s.phase === 'Ready' &&
          now.length === 3 &&
          now.every(
            (p) =>
              !oldUids.has(p.metadata.uid) &&
              p.spec.containers.every((c) => c.image === NEXT_IMAGE) &&
              (p.status.containerStatuses ?? []).every((c) => c.ready),
          )
        );
      },
      420_000,
      'every pod replaced with the new image and the network Ready',
      1000,
    ).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${await stack.diagnose()}`);
    });
    expect(failures).toEqual([]);
    expect(notReadyAtOnce).toBeLessThanOrEqual(1);

    const after = await stack.waitReady('roll', 3);
    for (const p of after.peers ?? []) expect(p.peerId).toBe(ids.get(p.name));
    for (let i = 0; i < 9; i++) {
      const reader = (after.peers ?? [])[(i + 1) % 3] as PeerStatusEntry;
      expect(await getRecord(reader, `r${i}`)).toBe(`v${i}`);
    }
  }, 600_000);
});
