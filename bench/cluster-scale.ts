// cluster-scale: the operator against the built-in StatefulSet controller, on a private local
// control plane with many kwok nodes (cluster/).
// 1. Time from creating a 200-pod spread PeerNetwork (required anti-affinity, one pod a node)
//    to phase Ready, and from creating a StatefulSet (Parallel) of the same 200 pods (the
//    operator's own pod spec, same anti-affinity) to 200 ready replicas; rounds alternate
//    which goes first. Both clients have the same QPS/burst.
// 2. Steady state: 20 networks of 10 pods Ready, then the operator's writes over 60 s counted
//    in the API server's audit log (the operator acts as its own user), its reconciles from
//    its metrics, and its resident memory.
// Figures are printed, never asserted.
// Long: one benchmark, its phases in the order they run and print.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  Watch,
  type V1Pod,
  type V1Service,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { startCluster, type Cluster } from '../cluster/index.js';
import type { PeerNetworkStatus } from '../operator/api/schema.js';
import { auditWrites } from '../test/helpers/cluster-audit.js';
import { applyCrds } from '../test/helpers/cluster-crd.js';
import {
  metricByLabel,
  metricSum,
  startOperatorProcess,
  type OperatorProcess,
} from '../test/helpers/cluster-operator.js';
import type { BenchContext, Benchmark } from './benchmark.js';
import { createKwokNetwork, group, plural, version } from './networks.js';
import { mean, table } from './stats.js';

const usage = `  --nodes N            fake kwok nodes (default 210)
  --pods N             pods of the big network and of the StatefulSet (default 200)
  --policy P           Required (one pod a node; needs nodes >= pods) or Preferred (default Required)
  --rounds N           rounds of operator vs StatefulSet, alternating who goes first (default 2)
  --networks N         networks in the steady-state phase (default 20)
  --network-pods N     pods per steady-state network (default 10)
  --steady-seconds S   how long writes are counted in the steady state (default 60)
  --qps N              client QPS of the operator, the controller manager and the scheduler (default 100; burst 2x)
  --no-sts-service     leave out the StatefulSet's governing headless Service (the operator makes
                       one for its pods; without it nothing keeps Endpoints for the StatefulSet's)
  --kcm-json           the controller manager talks JSON to the API server, as the operator does
                       (client-node has no protobuf): shows what the wire format is worth
  --pprof DIR          save a CPU profile of the API server for each side's round (the first
                       --pprof-seconds of it) to DIR/<side>-<round>.pb.gz, for \`go tool pprof\`
  --pprof-seconds S    length of each profile (default 4)
  --skip-steady        only the 200-pod comparison`;

interface Options {
  nodes: number;
  pods: number;
  policy: 'Required' | 'Preferred';
  rounds: number;
  networks: number;
  networkPods: number;
  steadySeconds: number;
  qps: number;
  skipSteady: boolean;
  stsService: boolean;
  kcmJson: boolean;
  pprof: string | undefined;
  pprofSeconds: number;
}

function parse(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      nodes: { type: 'string', default: '210' },
      pods: { type: 'string', default: '200' },
      policy: { type: 'string', default: 'Required' },
      rounds: { type: 'string', default: '2' },
      networks: { type: 'string', default: '20' },
      'network-pods': { type: 'string', default: '10' },
      'steady-seconds': { type: 'string', default: '60' },
      qps: { type: 'string', default: '100' },
      'skip-steady': { type: 'boolean', default: false },
      'no-sts-service': { type: 'boolean', default: false },
      'kcm-json': { type: 'boolean', default: false },
      pprof: { type: 'string' },
      'pprof-seconds': { type: 'string', default: '4' },
    },
    strict: true,
  });
  const int = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number`);
    return n;
  };
  if (values.policy !== 'Required' && values.policy !== 'Preferred')
    throw new Error('--policy must be Required or Preferred');
  const o: Options = {
    nodes: int('nodes', values.nodes),
    pods: int('pods', values.pods),
    policy: values.policy,
    rounds: int('rounds', values.rounds),
    networks: int('networks', values.networks),
    networkPods: int('network-pods', values['network-pods']),
    steadySeconds: int('steady-seconds', values['steady-seconds']),
    qps: int('qps', values.qps),
    skipSteady: values['skip-steady'],
    stsService: !values['no-sts-service'],
    kcmJson: values['kcm-json'],
    pprof: values.pprof,
    pprofSeconds: int('pprof-seconds', values['pprof-seconds']),
  };
  if (o.policy === 'Required' && o.nodes < o.pods)
    throw new Error('--policy Required needs --nodes >= --pods');
  return o;
}

/** A PeerNetwork as the watch sees it: its generation and status (operator/api/schema.ts). */
interface NetworkStatus {
  metadata?: { generation?: number };
  status?: PeerNetworkStatus;
}

/** Seconds from the create call until all pods existed, were bound to nodes, were Ready; and done. */
interface Timing {
  created: number;
  scheduled: number;
  podsReady: number;
  /** the last write of the PeerNetwork's or StatefulSet's status */
  statusWritten: number;
  total: number;
}

interface Template {
  pod: V1Pod;
  /** the operator's headless Service for the pods */
  service: V1Service;
  secrets: { name: string; data: Record<string, string>; type: string }[];
  configMaps: { name: string; data: Record<string, string> }[];
}

class Bench {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly custom: CustomObjectsApi;
  readonly watcher: Watch;
  constructor(
    readonly cluster: Cluster,
    readonly ctx: BenchContext,
  ) {
    const kc = cluster.kubeConfig();
    this.watcher = new Watch(kc);
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  async namespace(name: string): Promise<void> {
    await this.core.createNamespace({ body: { metadata: { name } } });
    await this.until(async () => {
      try {
        await this.core.readNamespacedServiceAccount({ name: 'default', namespace: name });
        return true;
      } catch {
        return false;
      }
    }, 60_000);
  }

  async deleteNamespace(name: string): Promise<void> {
    await this.core.deleteNamespace({ name });
    await this.until(async () => {
      try {
        await this.core.readNamespace({ name });
        return false;
      } catch {
        return true;
      }
    }, 600_000);
  }

  /** Polls every 100 ms; returns the elapsed seconds since `t0`. */
  async until(
    check: () => Promise<boolean>,
    timeoutMs: number,
    t0 = performance.now(),
  ): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.ctx.signal.aborted) throw new Error('aborted');
      if (await check()) return (performance.now() - t0) / 1000;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s`);
      await sleep(100);
    }
  }

  createNetwork(namespace: string, name: string, replicas: number, policy: string): Promise<void> {
    return createKwokNetwork(this.custom, namespace, name, replicas, policy);
  }

  async networkReady(namespace: string, name: string, peers: number): Promise<boolean> {
    const pn = (await this.custom.getNamespacedCustomObject({
      group,
      version,
      plural,
      namespace,
      name,
    })) as NetworkStatus;
    return (
      pn.status?.phase === 'Ready' &&
      pn.status.readyPeers === peers &&
      pn.status.observedGeneration === pn.metadata?.generation
    );
  }

  /** The operator's network: create, then wait for phase Ready with every peer ready. */
  async timeOperator(namespace: string, o: Options): Promise<Timing> {
    const done = await this.watchFor<NetworkStatus>(
      `/apis/${group}/${version}/namespaces/${namespace}/${plural}`,
      'big',
      (pn) =>
        pn.status?.phase === 'Ready' &&
        pn.status.readyPeers === o.pods &&
        pn.status.observedGeneration === pn.metadata?.generation,
    );
    const t0 = performance.now();
    await this.createNetwork(namespace, 'big', o.pods, o.policy);
    return this.track(namespace, 'peernetworks', t0, done);
  }

  /**
   * Watches one object from before its creation; resolves (with performance.now()) at the first
   * event where `ready` holds. A watch, not polling: a GET of a 200-peer PeerNetwork is ~80 KB
   * the API server encodes every time, which at 10 Hz charged the operator's side with work of
   * the benchmark's own.
   */
  async watchFor<T>(
    path: string,
    name: string,
    ready: (obj: T) => boolean,
  ): Promise<{ at: Promise<number>; stop(): void }> {
    let resolve: (t: number) => void = () => {};
    let reject: (e: Error) => void = () => {};
    const at = new Promise<number>((res, rej) => ((resolve = res), (reject = rej)));
    const controller = await this.watcher.watch(
      path,
      { fieldSelector: `metadata.name=${name}` },
      (type: string, obj: T) => {
        if (type !== 'DELETED' && ready(obj)) resolve(performance.now());
      },
      (err: unknown) => reject(new Error(`watch of ${path} ended: ${String(err)}`)),
    );
    void at.catch(() => {}).finally(() => controller.abort());
    return { at, stop: () => controller.abort() };
  }

  /**
   * Waits for `done`, then reads when each step ended from the API server's audit log (its own
   * clock, to the microsecond, and no listing that would load the API server during the round):
   * the last pod created, bound by the scheduler, made Ready by kwok, and the last status write
   * of the PeerNetwork or StatefulSet, each in seconds from the create of that object.
   */
  async track(
    namespace: string,
    top: 'peernetworks' | 'statefulsets',
    t0: number,
    done: { at: Promise<number>; stop(): void },
  ): Promise<Timing> {
    let doneAt: number;
    try {
      doneAt = await Promise.race([
        done.at,
        sleep(900_000, undefined, { signal: this.ctx.signal }).then(() => {
          throw new Error('timed out after 900s');
        }),
      ]);
    } finally {
      done.stop();
    }
    const writes = auditWrites(this.cluster, { namespace }).filter((w) => w.code < 300);
    const created = writes.find((w) => w.verb === 'create' && w.resource === top && !w.subresource);
    const last = (pick: (w: (typeof writes)[number]) => boolean): number => {
      const times = writes.filter(pick).map((w) => w.at.getTime());
      return created && times.length > 0 ? (Math.max(...times) - created.at.getTime()) / 1000 : NaN;
    };
    return {
      created: last((w) => w.verb === 'create' && w.resource === 'pods' && !w.subresource),
      scheduled: last((w) => w.resource === 'pods' && w.subresource === 'binding'),
      podsReady: last(
        (w) => w.resource === 'pods' && w.subresource === 'status' && w.user === 'kwok',
      ),
      statusWritten: last((w) => w.resource === top && w.subresource === 'status'),
      total: (doneAt - t0) / 1000,
    };
  }

  /** What the StatefulSet copies from the operator's first network: a pod and the objects it mounts. */
  async capture(namespace: string): Promise<Template> {
    const pod = await this.core.readNamespacedPod({ namespace, name: 'big-0' });
    const service = await this.core.readNamespacedService({ namespace, name: 'big-peers' });
    const secrets = (await this.core.listNamespacedSecret({ namespace })).items
      .filter((x) => x.type !== 'kubernetes.io/service-account-token')
      .map((x) => ({ name: x.metadata?.name ?? '', data: x.data ?? {}, type: x.type ?? 'Opaque' }));
    const configMaps = (await this.core.listNamespacedConfigMap({ namespace })).items
      .filter((x) => x.metadata?.name !== 'kube-root-ca.crt')
      .map((x) => ({ name: x.metadata?.name ?? '', data: x.data ?? {} }));
    return { pod, service, secrets, configMaps };
  }

  /** The same pods from a StatefulSet: the operator's pod spec, its own labels and anti-affinity. */
  async timeStatefulSet(namespace: string, template: Template, o: Options): Promise<Timing> {
    // The pods mount the network's key Secret and bootstrap ConfigMap: the same objects here.
    for (const x of template.secrets) {
      await this.core.createNamespacedSecret({
        namespace,
        body: { metadata: { name: x.name }, data: x.data, type: x.type },
      });
    }
    for (const x of template.configMaps) {
      await this.core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: x.name }, data: x.data },
      });
    }
    const labels = { app: 'sts-bench' };
    // A StatefulSet needs a headless Service to give its pods their DNS names (the operator makes
    // one for the same reason): the operator's Service spec, selecting these pods. The Endpoints
    // and EndpointSlice controllers then follow these pods as they do the operator's.
    if (o.stsService) {
      const { clusterIP, publishNotReadyAddresses, ports } = template.service.spec!;
      await this.core.createNamespacedService({
        namespace,
        body: {
          metadata: { name: 'big-peers' },
          spec: { clusterIP, publishNotReadyAddresses, ports, selector: labels },
        },
      });
    }
    const spec = structuredClone(template.pod.spec!);
    delete spec.nodeName;
    spec.hostname = undefined;
    spec.subdomain = undefined;
    const term = { labelSelector: { matchLabels: labels }, topologyKey: 'kubernetes.io/hostname' };
    spec.affinity = {
      podAntiAffinity:
        o.policy === 'Required'
          ? { requiredDuringSchedulingIgnoredDuringExecution: [term] }
          : {
              preferredDuringSchedulingIgnoredDuringExecution: [
                { weight: 100, podAffinityTerm: term },
              ],
            },
    };
    const sts: V1StatefulSet = {
      metadata: { name: 'big' },
      spec: {
        replicas: o.pods,
        podManagementPolicy: 'Parallel',
        serviceName: 'big-peers',
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec },
      },
    };
    const done = await this.watchFor<V1StatefulSet>(
      `/apis/apps/v1/namespaces/${namespace}/statefulsets`,
      'big',
      (s) => s.status?.readyReplicas === o.pods,
    );
    const t0 = performance.now();
    await this.apps.createNamespacedStatefulSet({ namespace, body: sts });
    return this.track(namespace, 'statefulsets', t0, done);
  }
}

/**
 * Starts a CPU profile of the API server (its /debug/pprof, through the matching kubectl) and
 * resolves once it is written to `file`.
 */
function profileApiServer(cluster: Cluster, seconds: number, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      cluster.binaries.kubectl,
      [
        `--kubeconfig=${cluster.kubeconfig}`,
        'get',
        '--raw',
        `/debug/pprof/profile?seconds=${seconds}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.pipe(createWriteStream(file));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`profile to ${file} failed: ${stderr.trim()}`)),
    );
  });
}

/** `create 200, patch 3`: the operator's API requests by verb between two metrics scrapes. */
function verbs(before: string, after: string): string {
  const count = (text: string): Map<string, number> =>
    metricByLabel(text, 'peernet_operator_kube_requests_total', 'verb');
  const a = count(before);
  return [...count(after)]
    .map(([verb, n]): [string, number] => [verb, n - (a.get(verb) ?? 0)])
    .filter(([, n]) => n > 0)
    .map(([verb, n]) => `${verb} ${n}`)
    .join(', ');
}

/** CPU seconds a process has used (user + system), from /proc; NaN once it is gone. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

function rssMiB(pid: number, field = 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

// Long: the benchmark's rounds in the order they run and print.
async function run(args: string[], ctx: BenchContext): Promise<void> {
  const o = parse(args);
  const started = Date.now();
  ctx.progress(`starting a private control plane with ${o.nodes} kwok nodes`);
  const cluster = await startCluster(
    {
      dir: `.test-output/bench-cluster-${process.pid}`,
      nodes: o.nodes,
      clientQps: o.qps,
      clientBurst: o.qps * 2,
      controllerManagerWire: o.kcmJson ? 'json' : 'protobuf',
    },
    { onProgress: (line) => ctx.progress(line) },
  );
  let operator: OperatorProcess | undefined;
  try {
    await applyCrds(cluster);
    const b = new Bench(cluster, ctx);
    operator = startOperatorProcess({
      kubeconfig: cluster.kubeconfigFor('peernet-operator'),
      identity: 'bench',
      namespaces: '',
      logDir: `.test-output/bench-operator-${process.pid}`,
      env: {
        PEERNET_OPERATOR_KUBE_QPS: String(o.qps),
        PEERNET_OPERATOR_KUBE_BURST: String(o.qps * 2),
        PEERNET_OPERATOR_LOG_LEVEL: process.env.PEERNET_OPERATOR_LOG_LEVEL ?? 'info',
        PEERNET_OPERATOR_LEASE_NAMESPACE: 'default',
      },
    });
    const op = operator;
    await b.until(
      async () => (await op.metrics().catch(() => '')).includes('peernet_operator_leader 1'),
      120_000,
    );
    // and its caches synced (/readyz), as the StatefulSet controller's long have been: timing
    // from before that measured the operator's start-up, ~2 s, not its work
    await b.until(async () => {
      const port = op.port();
      if (port === undefined) return false;
      return fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
    }, 120_000);
    ctx.progress('operator is leading and its caches are synced');
    // Warm-up, untimed: one small network through to Ready. The API server's watch cache for a
    // just-created CRD answers 429 for a few seconds (the operator's watch backs off meanwhile),
    // and the operator's code is not yet compiled hot; the StatefulSet controller is past both.
    // Without it the first round measured ~2.5 s of that.
    await b.namespace('bench-warmup');
    await b.createNetwork('bench-warmup', 'warmup', 3, o.policy);
    await b.until(() => b.networkReady('bench-warmup', 'warmup', 3), 120_000);
    await b.deleteNamespace('bench-warmup');
    ctx.progress('warm-up network Ready');

    const opTimes: Timing[] = [];
    const stsTimes: Timing[] = [];
    // CPU seconds each process used while a side was timed: who the 2 cores went to
    const procs = (): [string, number | undefined][] => [
      ...cluster.status().map((c): [string, number | undefined] => [c.name, c.pid]),
      ['operator', op.pid],
    ];
    const cpu = (): Map<string, number> => new Map(procs().map(([n, pid]) => [n, cpuSeconds(pid)]));
    const cpuUsed = { operator: new Map<string, number>(), sts: new Map<string, number>() };
    const addCpu = (who: 'operator' | 'sts', before: Map<string, number>): void => {
      for (const [n, after] of cpu()) {
        const used = after - (before.get(n) ?? NaN);
        cpuUsed[who].set(n, (cpuUsed[who].get(n) ?? 0) + used);
      }
    };
    let template: Template | undefined;
    for (let r = 0; r < o.rounds; r++) {
      const order =
        r % 2 === 0 || template === undefined ? ['operator', 'sts'] : ['sts', 'operator'];
      for (const who of order) {
        const ns = `bench-${who}-${r}`;
        await b.namespace(ns);
        const before = cpu();
        let profiled: Promise<void> | undefined;
        if (o.pprof) {
          mkdirSync(o.pprof, { recursive: true });
          profiled = profileApiServer(cluster, o.pprofSeconds, join(o.pprof, `${who}-${r}.pb.gz`));
        }
        if (who === 'operator') {
          const m0 = await op.metrics();
          const t = await b.timeOperator(ns, o);
          addCpu('operator', before);
          const m1 = await op.metrics();
          const diff = (name: string): number => metricSum(m1, name) - metricSum(m0, name);
          ctx.progress(
            `round ${r + 1}: the operator made ${diff('peernet_operator_kube_requests_total')} API requests ` +
              `(${verbs(m0, m1)}) in ${diff('peernet_operator_reconcile_total')} reconciles`,
          );
          opTimes.push(t);
          ctx.progress(
            `round ${r + 1}: operator ${o.pods} pods, phase Ready in ${t.total.toFixed(2)}s`,
          );
          template ??= await b.capture(ns);
        } else {
          const t = await b.timeStatefulSet(ns, template!, o);
          addCpu('sts', before);
          stsTimes.push(t);
          ctx.progress(
            `round ${r + 1}: StatefulSet ${o.pods} pods ready in ${t.total.toFixed(2)}s`,
          );
        }
        // the next side starts with no profile of this one still running
        await profiled;
      }
      // Each round starts from the same empty cluster.
      for (const who of order) {
        ctx.progress(`deleting bench-${who}-${r}`);
        await b.deleteNamespace(`bench-${who}-${r}`);
      }
    }

    ctx.print(
      `cluster-scale: ${o.pods}-pod spread (${o.policy} anti-affinity on kubernetes.io/hostname) on ${o.nodes} kwok nodes, client QPS ${o.qps}/burst ${o.qps * 2}`,
    );
    const f = (x: number): string => (Number.isNaN(x) ? '-' : x.toFixed(2));
    const rows = [
      [
        '',
        'round',
        'pods created',
        'pods bound',
        'pods Ready',
        'status written',
        'done (s)',
        'ratio',
      ],
    ];
    for (let i = 0; i < o.rounds; i++) {
      const a = opTimes[i];
      const s = stsTimes[i];
      if (a === undefined || s === undefined) continue;
      rows.push([
        'operator',
        String(i + 1),
        f(a.created),
        f(a.scheduled),
        f(a.podsReady),
        f(a.statusWritten),
        f(a.total),
        f(a.total / s.total),
      ]);
      rows.push([
        `StatefulSet${o.stsService ? '' : ' (no Service)'}${o.kcmJson ? ' (JSON)' : ''}`,
        String(i + 1),
        f(s.created),
        f(s.scheduled),
        f(s.podsReady),
        f(s.statusWritten),
        f(s.total),
        '',
      ]);
    }
    const mo = mean(opTimes.map((t) => t.total));
    const ms = mean(stsTimes.map((t) => t.total));
    rows.push(['mean', '', '', '', '', '', `${f(mo)} / ${f(ms)}`, f(mo / ms)]);
    for (const line of table(rows)) ctx.print(`  ${line}`);
    const names = [...cpuUsed.operator.keys()];
    const cpuRows = [['CPU s (all rounds)', ...names, 'total']];
    for (const who of ['operator', 'sts'] as const) {
      const used = names.map((n) => cpuUsed[who].get(n) ?? NaN);
      cpuRows.push([
        who === 'operator' ? 'operator rounds' : 'StatefulSet rounds',
        ...used.map((x) => x.toFixed(1)),
        used.reduce((a, x) => a + x, 0).toFixed(1),
      ]);
    }
    for (const line of table(cpuRows)) ctx.print(`  ${line}`);
    ctx.print(
      '  (seconds; the last of each kind of write, from the API server audit log, after the create;\n' +
        '   done = phase Ready / readyReplicas seen by a watch, from the create call)',
    );
    ctx.print(`  target: ratio <= 1.0 and operator < 10 s`);

    if (!o.skipSteady) {
      const ns = 'bench-steady';
      await b.namespace(ns);
      ctx.progress(`steady state: creating ${o.networks} networks of ${o.networkPods} pods`);
      for (let i = 0; i < o.networks; i++)
        await b.createNetwork(ns, `net-${i}`, o.networkPods, o.policy);
      const readyIn = await b.until(async () => {
        for (let i = 0; i < o.networks; i++) {
          if (!(await b.networkReady(ns, `net-${i}`, o.networkPods))) return false;
        }
        return true;
      }, 900_000);
      ctx.progress(
        `all ${o.networks} networks Ready in ${readyIn.toFixed(1)}s; counting the operator's writes for ${o.steadySeconds}s`,
      );
      const reconcilesBefore = metricSum(await op.metrics(), 'peernet_operator_reconcile_total');
      const since = new Date();
      const rss: number[] = [];
      const end = Date.now() + o.steadySeconds * 1000;
      while (Date.now() < end && !ctx.signal.aborted) {
        rss.push(rssMiB(op.pid));
        await sleep(1000);
      }
      const until = new Date();
      const metricsAtEnd = await op.metrics();
      const reconciles =
        metricSum(metricsAtEnd, 'peernet_operator_reconcile_total') - reconcilesBefore;
      // where the resident set goes: the JS heap, memory outside it (buffers), and file pages
      // (the node binary, shared with every other Node process)
      const mib = (name: string): string =>
        (metricSum(metricsAtEnd, `peernet_operator_nodejs_${name}`) / 2 ** 20).toFixed(1);
      const memParts =
        `anonymous ${rssMiB(op.pid, 'RssAnon').toFixed(1)} + file ${rssMiB(op.pid, 'RssFile').toFixed(1)} MiB; ` +
        `JS heap used ${mib('heap_size_used_bytes')} of ${mib('heap_size_total_bytes')} MiB, external ${mib('external_memory_bytes')} MiB`;
      const writes = auditWrites(cluster, { since }).filter(
        (w) => w.user === 'peernet-operator' && w.at <= until,
      );
      const leaseWrites = writes.filter((w) => w.resource === 'leases');
      const other = writes.filter((w) => w.resource !== 'leases');
      const kinds = new Map<string, number>();
      for (const w of other) {
        const k = `${w.verb} ${w.resource}${w.subresource ? `/${w.subresource}` : ''}`;
        kinds.set(k, (kinds.get(k) ?? 0) + 1);
      }
      ctx.print(
        `steady state: ${o.networks} networks x ${o.networkPods} pods Ready (in ${readyIn.toFixed(1)}s), then ${o.steadySeconds}s observed`,
      );
      ctx.print(
        `  operator writes (audit log, excluding its Lease): ${other.length}${other.length > 0 ? ` (${[...kinds].map(([k, n]) => `${k}: ${n}`).join(', ')})` : ''}   target: 0`,
      );
      ctx.print(`  operator Lease renewals: ${leaseWrites.length}`);
      ctx.print(`  operator reconciles (metrics): ${reconciles}`);
      ctx.print(
        `  operator RSS: max ${Math.max(...rss).toFixed(1)} MiB, last ${(rss.at(-1) ?? NaN).toFixed(1)} MiB   target: < 150 MiB`,
      );
      ctx.print(`  operator memory at the end: ${memParts}`);
    }
    ctx.print(`  (whole benchmark: ${((Date.now() - started) / 1000).toFixed(0)}s)`);
  } finally {
    await operator?.stop(15_000);
    await cluster.stop();
  }
}

export const clusterScale: Benchmark = {
  name: 'cluster-scale',
  description:
    'operator vs StatefulSet: 200-pod spread to Ready; steady-state writes and memory of the operator',
  usage,
  run,
};
