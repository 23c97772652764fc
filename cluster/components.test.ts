import { describe, expect, it } from '@jest/globals';
import { parse, parseAllDocuments } from 'yaml';
import { binariesIn } from './binaries.js';
import {
  clusterPaths,
  componentCommands,
  componentNames,
  kubeconfigYaml,
  kwokConfigYaml,
  tokenFileContent,
} from './components.js';
import { parseClusterOptions } from './config.js';
import { fakeNode } from './nodes.js';

const options = parseClusterOptions({ dir: '/tmp/pn' });
const ports = {
  etcdClient: 1,
  etcdPeer: 2,
  apiserver: 3,
  controllerManager: 4,
  scheduler: 5,
  kwok: 6,
};
const commands = componentCommands(binariesIn('/bin'), clusterPaths('/tmp/pn'), ports, options);

describe('componentCommands', () => {
  it.each(componentNames)('%s listens on 127.0.0.1 only and logs to logs/<name>.log', (name) => {
    const c = commands[name];
    expect(c.logPath).toBe(`/tmp/pn/logs/${name}.log`);
    for (const arg of c.args) {
      for (const host of arg.match(/\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/g) ?? []) {
        if (!arg.startsWith('--service-cluster-ip-range'))
          expect(host.startsWith('127.')).toBe(true);
      }
    }
  });

  it('kwok gives fake pods loopback IPs and manages only annotated nodes', () => {
    expect(commands.kwok.args).toEqual(
      expect.arrayContaining([
        '--cidr=127.200.0.0/16',
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      ]),
    );
  });

  it('the API server has an audit log only when asked', () => {
    const off = componentCommands(binariesIn('/bin'), clusterPaths('/tmp/pn'), ports, {
      ...options,
      auditLog: false,
    });
    expect(commands['kube-apiserver'].args.some((a) => a.startsWith('--audit-log-path='))).toBe(
      true,
    );
    expect(off['kube-apiserver'].args.some((a) => a.startsWith('--audit-'))).toBe(false);
  });
});

describe('files', () => {
  it('the token file puts every user in system:masters', () => {
    const text = tokenFileContent({
      admin: 'a',
      'kube-controller-manager': 'b',
      'kube-scheduler': 'c',
      kwok: 'd',
      'peernet-operator': 'e',
    });
    expect(text.trim().split('\n')).toContain(
      'e,peernet-operator,peernet-operator,"system:masters"',
    );
  });

  it('a kubeconfig embeds the CA and the token', () => {
    const kc = parse(kubeconfigYaml('https://127.0.0.1:3', 'PEM', 'tok', 'admin')) as {
      clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
      users: { user: { token: string } }[];
    };
    expect(kc.clusters[0]?.cluster.server).toBe('https://127.0.0.1:3');
    expect(
      Buffer.from(kc.clusters[0]?.cluster['certificate-authority-data'] ?? '', 'base64').toString(),
    ).toBe('PEM');
    expect(kc.users[0]?.user.token).toBe('tok');
  });

  it('the kwok config is one document per stage', () => {
    const docs = parseAllDocuments(
      kwokConfigYaml(['kind: Stage\nmetadata: {name: a}\n', 'kind: Stage\nmetadata: {name: b}']),
    );
    expect(docs.map((d) => (d.toJS() as { metadata: { name: string } }).metadata.name)).toEqual([
      'a',
      'b',
    ]);
  });
});

describe('fakeNode', () => {
  it.each([
    [0, 'zone-a'],
    [1, 'zone-b'],
    [2, 'zone-c'],
    [3, 'zone-a'],
  ])('node %i is in %s, annotated for kwok and labelled as a kwok node', (i, zone) => {
    const node = fakeNode(options, i);
    expect(node.metadata?.name).toBe(`kwok-node-${i}`);
    expect(node.metadata?.annotations?.['kwok.x-k8s.io/node']).toBe('fake');
    expect(node.metadata?.labels).toMatchObject({
      'kubernetes.io/hostname': `kwok-node-${i}`,
      'topology.kubernetes.io/zone': zone,
      'peernet.io/node-kind': 'kwok',
    });
    expect(node.status?.allocatable).toEqual({ cpu: '32', memory: '256Gi', pods: '110' });
  });
});

describe('parseClusterOptions', () => {
  it('refuses an unknown option by name', () => {
    expect(() => parseClusterOptions({ nodez: 3 } as never)).toThrow(
      expect.objectContaining({ name: 'ClusterConfigError' }),
    );
  });
});
