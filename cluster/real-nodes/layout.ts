// Where a real node lives: its addresses, network namespace, folders and sockets. Pure.
//
// Cluster slot s (claimed per cluster, so clusters can run side by side) owns 10.<200+s>.0.0/16:
// the host holds 10.<200+s>.0.1 on the bridge `pnbr<s>` (the API server and CoreDNS listen
// there), node i holds 10.<200+s>.0.<10+i> in its own network namespace, and its pods get
// 10.<200+s>.<i>.0/24.
import { join } from 'node:path';

export const MAX_SLOTS = 50;
export const MAX_REAL_NODES = 20;

export interface SlotLayout {
  slot: number;
  /** The host's bridge to the nodes. */
  bridge: string;
  hostIp: string;
  /** The /16 of nodes and pods (routed, never forwarded by the host). */
  cidr: string;
  /** Short paths for sockets and runtime state (a unix socket path must stay under 108 bytes). */
  runDir: string;
}

export interface NodeLayout {
  index: number;
  name: string;
  ip: string;
  podCidr: string;
  podGateway: string;
  netns: string;
  /** host end of the node's veth pair */
  hostVeth: string;
  zone: string;
  /** the kubelet's cgroup root under every controller */
  cgroupRoot: string;
  dir: string;
  runDir: string;
  containerdSocket: string;
  containerdConfig: string;
  kubeletConfig: string;
  kubeletKubeconfig: string;
  kubeProxyConfig: string;
  kubeProxyKubeconfig: string;
  cniConfDir: string;
}

export function slotLayout(slot: number): SlotLayout {
  const octet = 200 + slot;
  return {
    slot,
    bridge: `pnbr${slot}`,
    hostIp: `10.${octet}.0.1`,
    cidr: `10.${octet}.0.0/16`,
    runDir: `/run/peernet/c${slot}`,
  };
}

/** Node i (1-based) of a slot; `clusterDir` holds its larger folders and logs. */
export function nodeLayout(
  slot: SlotLayout,
  clusterDir: string,
  index: number,
  zones: readonly string[],
): NodeLayout {
  const octet = 200 + slot.slot;
  const name = `real-node-${index}`;
  const dir = join(clusterDir, 'nodes', name);
  const runDir = join(slot.runDir, `n${index}`);
  return {
    index,
    name,
    ip: `10.${octet}.0.${10 + index}`,
    podCidr: `10.${octet}.${index}.0/24`,
    podGateway: `10.${octet}.${index}.1`,
    netns: `peernet-c${slot.slot}-n${index}`,
    hostVeth: `pnv${slot.slot}-${index}`,
    zone: zones[(index - 1) % zones.length] ?? 'zone-a',
    cgroupRoot: `/peernet-c${slot.slot}-n${index}`,
    dir,
    runDir,
    containerdSocket: join(runDir, 'containerd.sock'),
    containerdConfig: join(dir, 'containerd.toml'),
    kubeletConfig: join(dir, 'kubelet.yaml'),
    kubeletKubeconfig: join(dir, 'kubelet.kubeconfig'),
    kubeProxyConfig: join(dir, 'kube-proxy.yaml'),
    kubeProxyKubeconfig: join(dir, 'kube-proxy.kubeconfig'),
    cniConfDir: join(dir, 'cni', 'net.d'),
  };
}
