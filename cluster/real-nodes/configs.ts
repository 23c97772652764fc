// Configuration files of a real node's components and of cluster DNS. Pure builders.
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { NodeLayout, SlotLayout } from './layout.js';

/** The pod sandbox image every node's containerd uses (imported locally; never pulled). */
export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10';
export const CLUSTER_DOMAIN = 'cluster.local';
/** Debian's containernetworking-plugins. */
export const CNI_BIN_DIR = '/usr/lib/cni';
export const RUNC = '/usr/sbin/runc';

const q = (s: string): string => JSON.stringify(s);

/** containerd 2.x (config version 4): every path its own, nothing under /var/lib or /etc. */
export function containerdConfigToml(node: NodeLayout): string {
  return `version = 4
root = ${q(join(node.dir, 'containerd'))}
state = ${q(join(node.runDir, 'state'))}
temp = ${q(join(node.dir, 'containerd-tmp'))}
# never the host's /etc/containerd/conf.d
imports = []

[plugins]
  [plugins.'io.containerd.server.v1.grpc']
    address = ${q(node.containerdSocket)}
  [plugins.'io.containerd.server.v1.ttrpc']
    address = ${q(join(node.runDir, 'containerd-ttrpc.sock'))}

  [plugins.'io.containerd.internal.v1.opt']
    path = ${q(join(node.dir, 'containerd-opt'))}

  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = ${q(PAUSE_IMAGE)}

  [plugins.'io.containerd.cri.v1.runtime']
    # root here may not lower oom_score_adj (no CAP_SYS_RESOURCE in this sandbox)
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = ${q(RUNC)}
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = [${q(CNI_BIN_DIR)}]
      conf_dir = ${q(node.cniConfDir)}
      max_conf_num = 1

  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
`;
}

/**
 * A bridge in the node's namespace with the node's /24; the node routes between nodes, so no
 * masquerade. `portmap` serves hostPort.
 */
export function cniConflist(node: NodeLayout): string {
  return (
    JSON.stringify(
      {
        cniVersion: '1.0.0',
        name: 'peernet',
        plugins: [
          {
            type: 'bridge',
            bridge: 'cni0',
            isGateway: true,
            ipMasq: false,
            hairpinMode: true,
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet: node.podCidr, gateway: node.podGateway }]],
              routes: [{ dst: '0.0.0.0/0' }],
              dataDir: join(node.dir, 'cni', 'ipam'),
            },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      },
      null,
      2,
    ) + '\n'
  );
}

export interface KubeletConfigInput {
  node: NodeLayout;
  slot: SlotLayout;
  caFile: string;
  /** an empty file: pods get no search domains or servers of the host */
  resolvConf: string;
}

export function kubeletConfigYaml({ node, slot, caFile, resolvConf }: KubeletConfigInput): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // this machine has cgroup v1; the kubelet only warns with this
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: node.cgroupRoot,
    containerRuntimeEndpoint: `unix://${node.containerdSocket}`,
    address: node.ip,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: caFile },
    },
    authorization: { mode: 'Webhook' },
    clusterDomain: CLUSTER_DOMAIN,
    clusterDNS: [slot.hostIp],
    resolvConf,
    podLogsDir: join(node.dir, 'pod-logs'),
    // the disk is shared with everything else on this machine: never evict or collect images
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: {
      'memory.available': '50Mi',
      'nodefs.available': '1%',
      'nodefs.inodesFree': '1%',
      'imagefs.available': '1%',
    },
    serializeImagePulls: false,
    maxPods: 110,
    // fast enough for tests to see changes; the defaults are for thousands of nodes
    nodeStatusUpdateFrequency: '4s',
    syncFrequency: '10s',
    fileCheckFrequency: '10s',
    shutdownGracePeriod: '0s',
    rotateCertificates: false,
    serverTLSBootstrap: false,
    protectKernelDefaults: false,
    localStorageCapacityIsolation: true,
    logging: { format: 'text' },
  });
}

export function kubeProxyConfigYaml(node: NodeLayout, slot: SlotLayout): string {
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig: node.kubeProxyKubeconfig },
    hostnameOverride: node.name,
    bindAddress: node.ip,
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    mode: 'iptables',
    clusterCIDR: slot.cidr,
    // leave the machine-wide conntrack sysctls alone
    conntrack: {
      maxPerCore: 0,
      min: 0,
      tcpEstablishedTimeout: '0s',
      tcpCloseWaitTimeout: '0s',
    },
    iptables: { localhostNodePorts: false, masqueradeAll: false },
  });
}

/** Cluster DNS on the host bridge: cluster.local only (nothing outside is reachable here). */
export function corefile(slot: SlotLayout, kubeconfig: string, healthPort: number): string {
  return `.:53 {
    bind ${slot.hostIp}
    errors
    health ${slot.hostIp}:${healthPort}
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        kubeconfig ${kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
    loop
}
`;
}
