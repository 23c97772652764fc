// Reading a PeerNetwork status: which peers count as ready, when the network is, and where a
// peer's API listens. Pure; the one definition the operator's status, the kubectl plugin,
// `npm start`, the benchmarks and the tests share.
import type { PeerNetworkStatus, PeerStatus } from '../api/schema.js';
import { API_BASE_PORT, containerName } from '../pods/names.js';

/** The peers whose container is ready (computeStatus sets `ready` from the pod). */
export function readyPeers<T extends Pick<PeerStatus, 'ready'>>(peers: readonly T[]): T[] {
  return peers.filter((p) => p.ready);
}

/** The ready peers that also have an address to reach their API at. */
export function reachablePeers<T extends Pick<PeerStatus, 'ready' | 'ip'>>(
  peers: readonly T[],
): T[] {
  return readyPeers(peers).filter((p) => p.ip !== undefined && p.ip !== '');
}

/** The network is Ready with `desired` peers, every one ready and reachable. */
export function networkReady(status: PeerNetworkStatus | undefined, desired: number): boolean {
  const peers = status?.peers ?? [];
  return (
    status?.phase === 'Ready' &&
    status.readyPeers === desired &&
    peers.length === desired &&
    reachablePeers(peers).length === desired
  );
}

/** The API port of container `peer-<i>`: API_BASE_PORT + i (operator/pods/pods.ts). */
export function apiPortOf(container: string): number | undefined {
  const m = /^(.*?)(0|[1-9][0-9]*)$/.exec(container);
  if (!m || containerName(Number(m[2])) !== container) return undefined;
  return API_BASE_PORT + Number(m[2]);
}

/** `http://IP:PORT` of a peer's API, once it has an IP (IPv6 in brackets). */
export function peerApiUrl(peer: Pick<PeerStatus, 'ip' | 'container'>): string | undefined {
  const port = apiPortOf(peer.container);
  if (peer.ip === undefined || peer.ip === '' || port === undefined) return undefined;
  return `http://${peer.ip.includes(':') ? `[${peer.ip}]` : peer.ip}:${port}`;
}
