import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ClusterBinaries } from './binaries.js';
import type { ClusterOptions } from './config.js';
import { pkiPaths } from './pki.js';
import type { CommandSpec } from './process.js';

/** The servers in start order. */
export const componentNames = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
] as const;
export type ComponentName = (typeof componentNames)[number];

/** Ports chosen at start, all on 127.0.0.1. */
export interface ClusterPorts {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  scheduler: number;
  kwok: number;
}

/**
 * The identities in the API server's token file. Every component has its own user name (all in
 * `system:masters`, this is a development cluster) so the audit log tells who wrote what.
 */
export const clusterUsers = [
  'admin',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
  'peernet-operator',
] as const;
export type ClusterUser = (typeof clusterUsers)[number];

/** Every path inside the cluster folder. */
export interface ClusterPaths {
  dir: string;
  state: string;
  kubeconfig: string;
  kubeconfigs: string;
  pki: string;
  certDir: string;
  tokenFile: string;
  serviceAccountKey: string;
  etcdData: string;
  logs: string;
  config: string;
  auditPolicy: string;
  auditLog: string;
  schedulerConfig: string;
  kwokConfig: string;
  bin: string;
}

export function clusterPaths(dir: string): ClusterPaths {
  const pki = join(dir, 'pki');
  const config = join(dir, 'config');
  const logs = join(dir, 'logs');
  return {
    dir,
    state: join(dir, 'state.json'),
    kubeconfig: join(dir, 'kubeconfig'),
    kubeconfigs: join(dir, 'kubeconfigs'),
    pki,
    certDir: join(pki, 'apiserver'),
    tokenFile: join(pki, 'tokens.csv'),
    serviceAccountKey: join(pki, 'service-account.key'),
    etcdData: join(dir, 'etcd'),
    logs,
    config,
    auditPolicy: join(config, 'audit-policy.yaml'),
    auditLog: join(logs, 'audit.log'),
    schedulerConfig: join(config, 'kube-scheduler.yaml'),
    kwokConfig: join(config, 'kwok.yaml'),
    bin: join(dir, 'bin'),
  };
}

/** The cluster CA (cluster/pki.ts): what every client trusts. */
export function apiserverCertFile(paths: ClusterPaths): string {
  return pkiPaths(paths.certDir).caCert;
}

/** Where the API server listens and what it tells clients and the `kubernetes` Service. */
export interface ApiserverNetwork {
  /** 127.0.0.1 without real nodes; the host bridge's address with them (pods reach it there). */
  address: string;
  /** Real nodes present: the Node authorizer, kubelet client certificate, endpoint reconciler. */
  realNodes: boolean;
}

export function userKubeconfig(paths: ClusterPaths, user: ClusterUser): string {
  return user === 'admin' ? paths.kubeconfig : join(paths.kubeconfigs, `${user}.kubeconfig`);
}

/** `token,user,uid,"groups"` lines for `--token-auth-file`; `extra` adds users of other groups. */
export function tokenFileContent(
  tokens: Record<ClusterUser, string>,
  extra: ReadonlyArray<{ token: string; user: string; groups: readonly string[] }> = [],
): string {
  const lines = [
    ...clusterUsers.map((u) => `${tokens[u]},${u},${u},"system:masters"`),
    ...extra.map((e) => `${e.token},${e.user},${e.user},"${e.groups.join(',')}"`),
  ];
  return lines.join('\n') + '\n';
}

/** A kubeconfig with one cluster, one token user and one context, all named `peernet`. */
export function kubeconfigYaml(server: string, caPem: string, token: string, user: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'peernet',
        cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
      },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'peernet', context: { cluster: 'peernet', user, namespace: 'default' } }],
    'current-context': 'peernet',
  });
}

/** Writes only: Metadata level for every mutating verb, nothing for reads. */
export function auditPolicyYaml(): string {
  return stringify({
    apiVersion: 'audit.k8s.io/v1',
    kind: 'Policy',
    omitStages: ['RequestReceived'],
    rules: [
      { level: 'Metadata', verbs: ['create', 'update', 'patch', 'delete', 'deletecollection'] },
      { level: 'None' },
    ],
  });
}

export function schedulerConfigYaml(kubeconfig: string, options: ClusterOptions): string {
  return stringify({
    apiVersion: 'kubescheduler.config.k8s.io/v1',
    kind: 'KubeSchedulerConfiguration',
    clientConnection: { kubeconfig, qps: options.clientQps, burst: options.clientBurst },
    leaderElection: { leaderElect: false },
  });
}

/** The kwok stages we use, as paths under the copied `kustomize/stage` folder. */
export const kwokStageFiles = [
  'node/fast/node-initialize.yaml',
  'node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
  'pod/fast/pod-ready.yaml',
  'pod/fast/pod-complete.yaml',
  'pod/fast/pod-delete.yaml',
] as const;

/**
 * One multi-document kwok config of the stage documents as they are. No KwokConfiguration
 * document: kwok v0.8.0 does not default the options of one read from a file (it then fails
 * with "node leases parallelism must be greater than 0"); the flags carry our settings.
 */
export function kwokConfigYaml(stageDocuments: string[]): string {
  return stageDocuments.map((d) => d.trim() + '\n').join('---\n');
}

/** Command lines of every server: pure, so they are unit-tested and stored for restarts. */
// Long: one command line per server, a table in code.
export function componentCommands(
  bins: ClusterBinaries,
  paths: ClusterPaths,
  ports: ClusterPorts,
  options: ClusterOptions,
  net: ApiserverNetwork = { address: '127.0.0.1', realNodes: false },
): Record<ComponentName, CommandSpec> {
  const pki = pkiPaths(paths.certDir);
  const log = (name: string): string => join(paths.logs, `${name}.log`);
  const etcdClient = `http://127.0.0.1:${ports.etcdClient}`;
  const etcdPeer = `http://127.0.0.1:${ports.etcdPeer}`;
  const qps = [`--kube-api-qps=${options.clientQps}`, `--kube-api-burst=${options.clientBurst}`];
  const kcmKubeconfig = userKubeconfig(paths, 'kube-controller-manager');
  const schedKubeconfig = userKubeconfig(paths, 'kube-scheduler');
  return {
    etcd: {
      name: 'etcd',
      command: bins.etcd,
      args: [
        '--name=peernet',
        `--data-dir=${paths.etcdData}`,
        `--listen-client-urls=${etcdClient}`,
        `--advertise-client-urls=${etcdClient}`,
        `--listen-peer-urls=${etcdPeer}`,
        `--initial-advertise-peer-urls=${etcdPeer}`,
        `--initial-cluster=peernet=${etcdPeer}`,
        // Development and tests only: durability is not worth the fsync cost on shared disks.
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      logPath: log('etcd'),
    },
    'kube-apiserver': {
      name: 'kube-apiserver',
      command: bins.kubeApiserver,
      args: [
        `--etcd-servers=${etcdClient}`,
        `--bind-address=${net.address}`,
        `--advertise-address=${net.address}`,
        `--secure-port=${ports.apiserver}`,
        `--tls-cert-file=${pki.apiserverCert}`,
        `--tls-private-key-file=${pki.apiserverKey}`,
        `--client-ca-file=${pki.caCert}`,
        `--token-auth-file=${paths.tokenFile}`,
        ...(net.realNodes
          ? [
              '--authorization-mode=Node,RBAC',
              '--enable-admission-plugins=NodeRestriction',
              `--kubelet-client-certificate=${pki.kubeletClientCert}`,
              `--kubelet-client-key=${pki.kubeletClientKey}`,
              '--kubelet-preferred-address-types=InternalIP',
            ]
          : [
              '--authorization-mode=RBAC',
              // A loopback advertise address is refused by the endpoint reconciler; without
              // real nodes nothing in a pod needs the `kubernetes` Service.
              '--endpoint-reconciler-type=none',
            ]),
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${paths.serviceAccountKey}`,
        `--service-account-signing-key-file=${paths.serviceAccountKey}`,
        `--service-cluster-ip-range=${options.serviceCidr}`,
        '--allow-privileged=true',
        ...(options.auditLog
          ? [
              `--audit-policy-file=${paths.auditPolicy}`,
              `--audit-log-path=${paths.auditLog}`,
              '--audit-log-maxsize=200',
              '--audit-log-maxbackup=1',
            ]
          : []),
      ],
      logPath: log('kube-apiserver'),
    },
    'kube-controller-manager': {
      name: 'kube-controller-manager',
      command: bins.kubeControllerManager,
      args: [
        `--kubeconfig=${kcmKubeconfig}`,
        `--authentication-kubeconfig=${kcmKubeconfig}`,
        `--authorization-kubeconfig=${kcmKubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.controllerManager}`,
        '--leader-elect=false',
        `--service-account-private-key-file=${paths.serviceAccountKey}`,
        `--root-ca-file=${apiserverCertFile(paths)}`,
        ...qps,
        ...(options.controllerManagerWire === 'json'
          ? ['--kube-api-content-type=application/json']
          : []),
      ],
      logPath: log('kube-controller-manager'),
    },
    'kube-scheduler': {
      name: 'kube-scheduler',
      command: bins.kubeScheduler,
      args: [
        `--config=${paths.schedulerConfig}`,
        `--authentication-kubeconfig=${schedKubeconfig}`,
        `--authorization-kubeconfig=${schedKubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.scheduler}`,
      ],
      logPath: log('kube-scheduler'),
    },
    kwok: {
      name: 'kwok',
      command: bins.kwok,
      args: [
        `--kubeconfig=${userKubeconfig(paths, 'kwok')}`,
        `--config=${paths.kwokConfig}`,
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
        `--cidr=${options.podCidr}`,
        '--node-ip=127.0.0.1',
        '--node-lease-duration-seconds=40',
        `--server-address=127.0.0.1:${ports.kwok}`,
      ],
      logPath: log('kwok'),
    },
  };
}
