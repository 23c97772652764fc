// The operator: informers, work queue, reconciler, leader election, health and metrics server.
// Built from injected components so tests run one in-process against a real API server.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { V1Pod } from '@kubernetes/client-node';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../peer/api/process-metrics.js';
import { PHASES, type PeerNetworkObject } from './api/schema.js';
import { createKubeClient, type KubeClient, type KubeObject } from './kube/client.js';
import type { KubeAccess } from './kube/config.js';
import { createEventRecorder } from './kube/events.js';
import { createInformers, type Informers } from './kube/informers.js';
import { createLeaderElector, type LeaderElector } from './kube/leader.js';
import { component, type Logger } from './logger.js';
import { systemClock, type Clock } from './reconcile/clock.js';
import { createPeerStatusClient, type PeerStatusClient } from './reconcile/peers.js';
import { createWorkQueue, type WorkQueue } from './reconcile/queue.js';
import { createReconciler } from './reconcile/reconciler.js';
import { isPodReady } from './pods/plan.js';
import type { Settings } from './settings.js';
// the one version helper of the repository (Dockerfile.operator copies it beside the operator)
import { packageVersion } from '../peer/cli/version.js';

export interface OperatorComponents {
  /** how to reach the API server (./kube/config.ts: loadKubeAccess, kubeAccessFromClientNode) */
  access: KubeAccess;
  logger: Logger;
  clock?: Clock;
  peers?: PeerStatusClient;
  /** defaults to a client built from access */
  kube?: KubeClient;
}

export interface Operator {
  /** starts the HTTP server, the informers and the leader campaign; resolves once listening */
  start(): Promise<void>;
  /** graceful: finishes reconciles in progress, releases the lease, stops the watches */
  stop(): Promise<void>;
  /** resolves after stop() */
  readonly done: Promise<'stopped'>;
  isLeader(): boolean;
  synced(): boolean;
  /** the bound port of the health/metrics server */
  port(): number;
  readonly registry: Registry;
}

const keyOf = (ns: string | undefined, name: string | undefined) => `${ns ?? ''}/${name ?? ''}`;

function ownerKey(obj: KubeObject): string | undefined {
  const ref = obj.metadata?.ownerReferences?.find((r) => r.controller && r.kind === 'PeerNetwork');
  return ref ? keyOf(obj.metadata?.namespace, ref.name) : undefined;
}

export function createOperator(c: OperatorComponents, settings: Settings): Operator {
  const registry = new Registry();
  const kubeRequests = new Counter({
    name: 'peernet_operator_kube_requests_total',
    help: 'Requests sent to the API server, by HTTP verb (WATCH for watches)',
    labelNames: ['verb'],
    registers: [registry],
  });
  const clock = c.clock ?? systemClock;
  const log = component(c.logger, 'controller');
  const kube =
    c.kube ??
    createKubeClient(c.access, clock, {
      qps: settings.kubeQps,
      burst: settings.kubeBurst,
      onRequest: (verb) => kubeRequests.inc({ verb }),
    });
  const peers =
    c.peers ??
    createPeerStatusClient({
      statusTimeoutMs: settings.peerStatusTimeoutMs,
      drainTimeoutMs: settings.drainTimeoutMs,
    });
  const informers: Informers = createInformers(
    kube,
    settings.namespaces,
    clock,
    component(c.logger, 'informer'),
    { watchNodes: settings.watchNodes },
  );
  const events = createEventRecorder(kube, clock, component(c.logger, 'events'), settings.identity);
  const reconciler = createReconciler(
    {
      kube,
      cache: settings.watchNodes ? informers : { ...informers, nodes: undefined },
      clock,
      logger: component(c.logger, 'reconcile'),
      peers,
      events,
    },
    {
      peerImage: settings.peerImage,
      clusterDomain: settings.clusterDomain,
      progressingRequeueMs: settings.progressingRequeueSeconds * 1000,
      readyResyncMs: settings.readyResyncSeconds * 1000,
      statusIntervalMs: settings.statusIntervalMs,
      reconcileTimeoutMs: settings.reconcileTimeoutMs,
      networkPolicy: {
        byDefault: settings.networkPolicy,
        ...(settings.networkPolicyOperatorNamespace
          ? {
              operator: {
                namespace: settings.networkPolicyOperatorNamespace,
                podLabels: settings.networkPolicyOperatorLabels,
              },
            }
          : {}),
        ...(settings.networkPolicyMetricsNamespace
          ? {
              metrics: {
                namespace: settings.networkPolicyMetricsNamespace,
                podLabels: settings.networkPolicyMetricsLabels,
              },
            }
          : {}),
        apiCidrs: settings.networkPolicyApiCidrs,
      },
    },
  );

  collectProcessMetrics(registry, 'peernet_operator_');
  const version = packageVersion();
  new Gauge({
    name: 'peernet_operator_build_info',
    help: 'Always 1; the version label names the running build',
    labelNames: ['version'],
    registers: [registry],
  }).set({ version }, 1);
  const reconcileTotal = new Counter({
    name: 'peernet_operator_reconcile_total',
    help: 'Reconciles by result (deadline: stopped at --reconcile-timeout-ms, retried with backoff)',
    labelNames: ['result'],
    registers: [registry],
  });
  const reconcileErrors = new Counter({
    name: 'peernet_operator_reconcile_errors_total',
    help: 'Reconciles that failed and were requeued with backoff',
    registers: [registry],
  });
  const reconcileDuration = new Histogram({
    name: 'peernet_operator_reconcile_duration_seconds',
    help: 'Time spent in one reconcile',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  let queue: WorkQueue | undefined;
  new Gauge({
    name: 'peernet_operator_workqueue_depth',
    help: 'PeerNetwork keys waiting to be reconciled',
    registers: [registry],
    collect() {
      this.set(queue?.depth() ?? 0);
    },
  });
  let leader: LeaderElector | undefined;
  let leading = !settings.leaderElect;
  new Gauge({
    name: 'peernet_operator_leader',
    help: '1 when this replica is the leader',
    registers: [registry],
    collect() {
      this.set(leading ? 1 : 0);
    },
  });
  new Gauge({
    name: 'peernet_operator_peernetworks',
    help: 'PeerNetworks in the cache',
    registers: [registry],
    collect() {
      this.set(informers.networks.list().length);
    },
  });
  // Per network, from the status in the cache (kube-state-metrics style: the phase gauge is 1 for
  // the current phase, 0 for the others); every replica reports them, dashboards take max.
  const netLabels = ['namespace', 'peernetwork'] as const;
  const byNetwork = (fill: (g: Gauge<'namespace' | 'peernetwork'>, n: PeerNetworkObject) => void) =>
    function (this: Gauge<'namespace' | 'peernetwork'>) {
      this.reset();
      for (const n of informers.networks.list()) fill(this, n);
    };
  const netOf = (n: PeerNetworkObject) => ({
    namespace: n.metadata.namespace ?? '',
    peernetwork: n.metadata.name ?? '',
  });
  new Gauge({
    name: 'peernet_operator_peernetwork_phase',
    help: 'PeerNetwork status.phase: 1 for the current phase, 0 for the others',
    labelNames: [...netLabels, 'phase'],
    registers: [registry],
    collect() {
      this.reset();
      for (const n of informers.networks.list()) {
        for (const phase of PHASES)
          this.set({ ...netOf(n), phase }, n.status?.phase === phase ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'peernet_operator_peernetwork_ready_peers',
    help: 'PeerNetwork status.readyPeers',
    labelNames: netLabels,
    registers: [registry],
    collect: byNetwork((g, n) => g.set(netOf(n), n.status?.readyPeers ?? 0)),
  });
  new Gauge({
    name: 'peernet_operator_peernetwork_desired_peers',
    help: 'PeerNetwork status.desiredPeers (replicas x peersPerPod)',
    labelNames: netLabels,
    registers: [registry],
    collect: byNetwork((g, n) => g.set(netOf(n), n.status?.desiredPeers ?? 0)),
  });

  const enqueue = (key: string | undefined, opts?: { now?: boolean }) => {
    if (key && queue && leading) queue.add(key, opts);
  };
  // status-only updates do not requeue: only a new generation, deletion or labels do
  const seen = new Map<string, string>();
  informers.networks.on((kind, n: PeerNetworkObject) => {
    const key = keyOf(n.metadata.namespace, n.metadata.name);
    const mark = `${n.metadata.uid}/${n.metadata.generation}/${n.metadata.deletionTimestamp ? 'd' : ''}`;
    if (kind === 'delete') {
      seen.delete(key);
      enqueue(key);
      return;
    }
    if (kind === 'update' && seen.get(key) === mark) return;
    seen.set(key, mark);
    enqueue(key);
  });
  // The pods of each network that are not Ready. The event that makes the last of them Ready is
  // reconciled at once (phase Ready is what users wait for), not folded into the next interval.
  const notReady = new Map<string, Set<string>>();
  informers.pods.on((kind, pod: V1Pod) => {
    const key = ownerKey(pod);
    if (!key) return;
    const name = pod.metadata?.name ?? '';
    let waiting = notReady.get(key);
    if (kind !== 'delete' && !isPodReady(pod)) {
      if (!waiting) notReady.set(key, (waiting = new Set()));
      waiting.add(name);
      return enqueue(key);
    }
    const last = waiting?.delete(name) === true && waiting.size === 0;
    if (waiting?.size === 0) notReady.delete(key);
    enqueue(key, { now: last && kind !== 'delete' });
  });
  for (const inf of [
    informers.secrets,
    informers.configMaps,
    informers.services,
    informers.pdbs,
    informers.networkPolicies,
  ] as const) {
    (inf as { on(cb: (k: string, o: KubeObject) => void): void }).on((_k, o) =>
      enqueue(ownerKey(o)),
    );
  }
  informers.nodes.on((kind, node) => {
    if (kind !== 'delete') return;
    for (const pod of informers.pods.list() as V1Pod[]) {
      if (pod.spec?.nodeName === node.metadata?.name) enqueue(ownerKey(pod));
    }
  });

  function startWorking(): void {
    leading = true;
    queue = createWorkQueue(clock, {
      concurrency: settings.workers,
      minIntervalMs: settings.reconcileIntervalMs,
      onError: (key, err, retryInMs) => {
        reconcileErrors.inc();
        const e = err as Error;
        log.warn({ network: key, err: e.message, errName: e.name, retryInMs }, 'reconcile failed');
      },
      onBackoff: (key, reason, retryInMs, detail) => {
        log.warn(
          { network: key, reason, retryInMs, ...(detail ? { err: detail } : {}) },
          reason === 'DeadlineExceeded' ? 'reconcile stopped short' : 'reconcile failed',
        );
      },
    });
    queue.start(async (key) => {
      const end = reconcileDuration.startTimer();
      try {
        const r = await reconciler.reconcile(key);
        if (r.failed) reconcileErrors.inc();
        reconcileTotal.inc({ result: r.failed ? 'error' : r.deadline ? 'deadline' : 'success' });
        return r;
      } catch (err) {
        reconcileTotal.inc({ result: 'error' });
        throw err;
      } finally {
        end();
      }
    });
    for (const n of informers.networks.list())
      enqueue(keyOf(n.metadata.namespace, n.metadata.name));
  }

  const [host, portText] = (() => {
    const i = settings.metricsAddress.lastIndexOf(':');
    return [
      settings.metricsAddress.slice(0, i).replace(/^\[|\]$/g, ''),
      settings.metricsAddress.slice(i + 1),
    ];
  })();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ok = informers.synced();
      res
        .writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' })
        .end(ok ? 'ok\n' : 'caches not synced\n');
    } else if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    }
  });

  const abort = new AbortController();
  let resolveDone: (v: 'stopped') => void = () => {};
  const done = new Promise<'stopped'>((r) => (resolveDone = r));
  let campaign: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  async function waitSynced(): Promise<void> {
    while (!informers.synced() && !abort.signal.aborted) await clock.sleep(100, abort.signal);
  }

  return {
    registry,
    done,
    isLeader: () => leading,
    synced: () => informers.synced(),
    port: () => (server.address() as AddressInfo | null)?.port ?? 0,
    async start() {
      log.info({ version }, 'peernet-operator starting');
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(Number(portText), host || undefined, () => resolve());
      });
      void informers.start();
      if (!settings.leaderElect) {
        campaign = waitSynced().then(() => {
          if (!abort.signal.aborted) startWorking();
        });
        return;
      }
      leader = createLeaderElector(kube, clock, component(c.logger, 'leader'), {
        namespace: settings.leaseNamespace,
        name: settings.leaseName,
        identity: settings.identity,
      });
      const l = leader;
      // Leadership lost (renewals failed for the renew deadline, e.g. the API server is down):
      // stop acting before the lease can expire for the others, wait for the reconciles in
      // flight, then campaign again. The process survives an API server outage.
      campaign = (async () => {
        while (!abort.signal.aborted) {
          let lost = false;
          await l.run(
            abort.signal,
            () => {
              void waitSynced().then(() => {
                if (!abort.signal.aborted && l.isLeader()) startWorking();
              });
            },
            () => {
              lost = true;
              leading = false;
            },
          );
          if (!lost) break;
          const q = queue;
          queue = undefined;
          await q?.stop();
          log.warn('stopped reconciling after losing the lease; campaigning again');
        }
      })();
    },
    stop() {
      stopping ??= (async () => {
        abort.abort();
        leading = false;
        await queue?.stop();
        await campaign;
        await leader?.release();
        await informers.stop();
        await events.flush();
        kube.close();
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        log.info('stopped');
        resolveDone('stopped');
      })();
      return stopping;
    },
  };
}
