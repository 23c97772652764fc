import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { binariesIn } from '../binaries.js';
import { clusterPaths, componentCommands, tokenFileContent } from '../components.js';
import { parseClusterOptions } from '../config.js';
import { firstServiceIp } from '../index.js';
import {
  cniConflist,
  containerdConfigToml,
  corefile,
  kubeletConfigYaml,
  kubeProxyConfigYaml,
} from './configs.js';
import { realNodeCommands, realNodeUsers } from './index.js';
import { nodeLayout, slotLayout } from './layout.js';

const slot = slotLayout(3);
const zones = ['zone-a', 'zone-b', 'zone-c'];
const nodes = [1, 2, 3, 4].map((i) => nodeLayout(slot, '/tmp/pn', i, zones));
const node = nodes[1]!;

describe('layout', () => {
  it('gives each slot its own /16, bridge and run folder', () => {
    expect(slot).toEqual({
      slot: 3,
      bridge: 'pnbr3',
      hostIp: '10.203.0.1',
      cidr: '10.203.0.0/16',
      runDir: '/run/peernet/c3',
    });
    expect(slotLayout(4).cidr).not.toBe(slot.cidr);
  });

  it('gives node i an address on the bridge, a /24 for pods and a zone round robin', () => {
    expect(node).toMatchObject({
      name: 'real-node-2',
      ip: '10.203.0.12',
      podCidr: '10.203.2.0/24',
      podGateway: '10.203.2.1',
      netns: 'peernet-c3-n2',
      zone: 'zone-b',
      cgroupRoot: '/peernet-c3-n2',
    });
    expect(nodes[3]!.zone).toBe('zone-a');
    expect(new Set(nodes.map((n) => n.podCidr)).size).toBe(nodes.length);
  });

  it('keeps unix socket paths well under the 108-byte limit', () => {
    expect(node.containerdSocket.length).toBeLessThan(60);
  });
});

describe('containerd', () => {
  const toml = containerdConfigToml(node);
  it('keeps every path of its own (root, state, sockets, CNI) and never /var/lib or /etc', () => {
    expect(toml).toContain('version = 4');
    expect(toml).toContain(`address = "${node.containerdSocket}"`);
    expect(toml).toContain(`conf_dir = "${node.cniConfDir}"`);
    expect(toml).toContain('netns_mounts_under_state_dir = true');
    expect(toml).not.toMatch(/"\/var\/lib|"\/etc\//);
  });
  it('uses runc with cgroupfs, like the kubelet', () => {
    expect(toml).toContain('SystemdCgroup = false');
    const kubelet = parse(kubeletConfigYaml({ node, slot, caFile: '/ca', resolvConf: '/r' })) as {
      cgroupDriver: string;
    };
    expect(kubelet.cgroupDriver).toBe('cgroupfs');
  });
});

describe('CNI', () => {
  it('a bridge with the node /24, no masquerade, addresses kept in the node folder', () => {
    const conf = JSON.parse(cniConflist(node)) as {
      plugins: Array<{
        type: string;
        ipMasq?: boolean;
        ipam?: { ranges: unknown; dataDir: string };
      }>;
    };
    const bridge = conf.plugins.find((p) => p.type === 'bridge')!;
    expect(bridge.ipMasq).toBe(false);
    expect(bridge.ipam?.ranges).toEqual([[{ subnet: '10.203.2.0/24', gateway: '10.203.2.1' }]]);
    expect(bridge.ipam?.dataDir.startsWith(node.dir)).toBe(true);
  });
});

describe('kubelet and kube-proxy', () => {
  const kubelet = parse(
    kubeletConfigYaml({ node, slot, caFile: '/ca', resolvConf: '/r' }),
  ) as Record<string, unknown>;
  it('serves on the node address, authenticates clients, and uses cluster DNS on the host bridge', () => {
    expect(kubelet).toMatchObject({
      address: '10.203.0.12',
      readOnlyPort: 0,
      authentication: { anonymous: { enabled: false }, x509: { clientCAFile: '/ca' } },
      authorization: { mode: 'Webhook' },
      clusterDNS: ['10.203.0.1'],
      cgroupRoot: '/peernet-c3-n2',
      containerRuntimeEndpoint: `unix://${node.containerdSocket}`,
    });
  });
  it('kube-proxy leaves the machine-wide conntrack settings alone', () => {
    const proxy = parse(kubeProxyConfigYaml(node, slot)) as { conntrack: unknown; mode: string };
    expect(proxy.mode).toBe('iptables');
    expect(proxy.conntrack).toMatchObject({ maxPerCore: 0, min: 0 });
  });
  it('every server of a node runs inside its network namespace', () => {
    const cmds = realNodeCommands(
      {
        bins: {
          kubelet: '/b/kubelet',
          kubeProxy: '/b/kp',
          containerd: '/b/c',
          ctr: '/b/ctr',
          coredns: '/b/cd',
          shimDir: '/b',
        },
        logs: '/l',
      },
      node,
    );
    for (const c of Object.values(cmds)) {
      expect(c.command).toBe('nsenter');
      expect(c.args[0]).toBe('--net=/run/netns/peernet-c3-n2');
    }
    expect(cmds.kubelet.args).toContain('--node-ip=10.203.0.12');
    expect(cmds.kubelet.args.find((a) => a.startsWith('--node-labels='))).toContain(
      'topology.kubernetes.io/zone=zone-b',
    );
  });
});

describe('cluster DNS and the API server with real nodes', () => {
  it('CoreDNS binds the host bridge and serves cluster.local', () => {
    const cf = corefile(slot, '/kc', 9153);
    expect(cf).toContain('bind 10.203.0.1');
    expect(cf).toContain('kubernetes cluster.local');
  });
  it('nodes are system:nodes users, kube-proxy has its own name', () => {
    const users = realNodeUsers(2);
    expect(users).toContainEqual({ user: 'system:node:real-node-2', groups: ['system:nodes'] });
    const file = tokenFileContent(
      {
        admin: 'a',
        'kube-controller-manager': 'b',
        'kube-scheduler': 'c',
        kwok: 'd',
        'peernet-operator': 'e',
      },
      [{ token: 't', user: 'system:node:real-node-1', groups: ['system:nodes'] }],
    );
    expect(file).toContain('t,system:node:real-node-1,system:node:real-node-1,"system:nodes"');
  });
  it('the API server listens on the bridge with the Node authorizer and a kubelet client certificate', () => {
    const options = parseClusterOptions({ dir: '/tmp/pn', realNodes: 3 });
    const ports = {
      etcdClient: 1,
      etcdPeer: 2,
      apiserver: 3,
      controllerManager: 4,
      scheduler: 5,
      kwok: 6,
    };
    const api = componentCommands(binariesIn('/bin'), clusterPaths('/tmp/pn'), ports, options, {
      address: slot.hostIp,
      realNodes: true,
    })['kube-apiserver'].args;
    expect(api).toEqual(
      expect.arrayContaining([
        '--bind-address=10.203.0.1',
        '--advertise-address=10.203.0.1',
        '--authorization-mode=Node,RBAC',
        '--enable-admission-plugins=NodeRestriction',
      ]),
    );
    expect(api.some((a) => a.startsWith('--kubelet-client-certificate='))).toBe(true);
    expect(api).not.toContain('--endpoint-reconciler-type=none');
    expect(firstServiceIp('10.96.0.0/16')).toBe('10.96.0.1');
  });
});
