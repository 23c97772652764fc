// Pure pieces of the plugin: which peer answers, at which port, and the tables it prints.
import type { PeerNetworkObject, PeerStatus } from '../operator/api/schema.js';
import { apiPortOf, readyPeers } from '../operator/status/view.js';
import type { PeerEntry, StatusReply } from '../peer/api/types.js';

/** A peer the plugin can reach: its status entry, resolved to a pod and API port. */
export type Target = PeerStatus & { port: number };

export class PeerSelectionError extends Error {
  override name = 'PeerSelectionError';
}

export function targetsOf(network: PeerNetworkObject): Target[] {
  const out: Target[] = [];
  for (const p of network.status?.peers ?? []) {
    const port = apiPortOf(p.container);
    if (port !== undefined && p.pod) out.push({ ...p, port });
  }
  return out;
}

/**
 * The peers to ask, best first: the one named (a peer name, pod name or peer ID), else the
 * ready peers in status order (the caller falls back to the next when one cannot be reached).
 */
export function choosePeers(network: PeerNetworkObject, want?: string): Target[] {
  const name = network.metadata.name;
  const all = targetsOf(network);
  if (want !== undefined) {
    const hit =
      all.find((p) => p.name === want) ??
      all.find((p) => p.peerId === want) ??
      all.find((p) => p.pod === want);
    if (!hit)
      throw new PeerSelectionError(
        `no peer ${JSON.stringify(want)} in network ${name} (see kubectl peernet status ${name})`,
      );
    return [hit];
  }
  const ready = readyPeers(all);
  if (ready.length === 0)
    throw new PeerSelectionError(
      all.length === 0
        ? `network ${name} lists no peers yet (is the operator running?)`
        : `no ready peer in network ${name} (see kubectl peernet status ${name})`,
    );
  return ready;
}

/** A peer ID, or the peer ID of a peer named in the status. */
export function resolvePeerId(network: PeerNetworkObject, target: string): string {
  const p = (network.status?.peers ?? []).find((x) => x.name === target || x.pod === target);
  return p?.peerId || target;
}

/** Rows as kubectl prints them: columns left-aligned, three spaces apart. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return (
    all
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3)))
          .join('')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** One peer of `kubectl peernet status`: the status entry and, when it answered, its live view. */
export interface StatusPeer {
  name: string;
  pod: string;
  container: string;
  node: string;
  ready: boolean;
  peerId: string;
  /** false when its API did not answer through the proxy */
  reachable: boolean;
  routingTable?: number;
  connections?: number;
  records?: number;
  /** why it could not be reached */
  error?: string;
}

export interface StatusView {
  network: string;
  namespace: string;
  phase?: string;
  readyPeers: number;
  desiredPeers: number;
  peers: StatusPeer[];
}

export function statusView(
  network: PeerNetworkObject,
  live: ReadonlyMap<string, StatusReply | Error>,
): StatusView {
  const s = network.status;
  const peers = (s?.peers ?? []).map((p): StatusPeer => {
    const l = live.get(p.name);
    const ok = l !== undefined && !(l instanceof Error);
    const routingTable = ok ? l.routingTable : p.routingTable;
    const connections = ok ? l.connections : p.connections;
    return {
      name: p.name,
      pod: p.pod,
      container: p.container,
      node: p.node,
      ready: p.ready,
      peerId: (ok ? l.peerId : '') || p.peerId,
      reachable: ok,
      ...(routingTable !== undefined ? { routingTable } : {}),
      ...(connections !== undefined ? { connections } : {}),
      ...(ok && typeof l.records === 'number' ? { records: l.records } : {}),
      ...(l instanceof Error ? { error: l.message } : {}),
    };
  });
  return {
    network: network.metadata.name,
    namespace: network.metadata.namespace,
    ...(s?.phase ? { phase: s.phase } : {}),
    readyPeers: s?.readyPeers ?? readyPeers(peers).length,
    desiredPeers: s?.desiredPeers ?? peers.length,
    peers,
  };
}

const num = (n: number | undefined): string => (n === undefined ? '<unknown>' : String(n));

export function renderStatus(v: StatusView): string {
  const head = `peernetwork/${v.network} in ${v.namespace}: ${v.phase ?? 'no status yet'}, ${v.readyPeers}/${v.desiredPeers} peers ready\n`;
  if (v.peers.length === 0) return head;
  return (
    head +
    table(
      ['PEER', 'POD', 'NODE', 'READY', 'ROUTING TABLE', 'CONNECTIONS', 'RECORDS'],
      v.peers.map((p) => [
        p.name,
        p.pod,
        p.node || '<none>',
        String(p.ready),
        num(p.routingTable),
        num(p.connections),
        num(p.records),
      ]),
    )
  );
}

/** Peer IDs with the name the network's status gives them (`<other>` for peers outside it). */
export function renderPeers(
  network: PeerNetworkObject,
  peers: readonly PeerEntry[],
  withAddrs: boolean,
): string {
  const byId = new Map((network.status?.peers ?? []).map((p) => [p.peerId, p.name]));
  const header = ['PEER ID', 'PEER', ...(withAddrs ? ['ADDRESSES'] : [])];
  return table(
    header,
    peers.map((p) => [
      p.peerId,
      byId.get(p.peerId) ?? '<other>',
      ...(withAddrs ? [(p.addrs ?? []).join(',') || '<none>'] : []),
    ]),
  );
}
