// The operator: wires the informers, the work queue, the reconciler, leader election and the
// health and metrics server together. Built from injected components so tests run one
// in-process against a real API server. The parts: controller/ (metrics, which events requeue a
// network, the health server, the campaign), reconcile/ (one reconcile), kube/ (the API).
import { Registry } from 'prom-client';
import type { KubeAccess } from './kube/config.js';
import { createKubeClient, type KubeClient } from './kube/client.js';
import { createEventRecorder } from './kube/events.js';
import { createInformers, type Informers } from './kube/informers.js';
import { createLeaderElector, type LeaderElector } from './kube/leader.js';
import { component, type Logger } from './logger.js';
import { createHealthServer } from './controller/health.js';
import { campaign as runCampaign } from './controller/leadership.js';
import { kubeRequestCounter, registerOperatorMetrics } from './controller/metrics.js';
import { keyOf, watchForChanges } from './controller/watches.js';
import { systemClock, type Clock } from './reconcile/clock.js';
import { createPeerStatusClient, type PeerStatusClient } from './reconcile/peers.js';
import { createWorkQueue, type WorkQueue } from './reconcile/queue.js';
import { createReconciler, type ReconcilerOptions } from './reconcile/reconciler.js';
import type { Settings } from './settings.js';
// the one version helper of the repository (Dockerfile.operator copies it beside the operator)
import { packageVersion } from '../common/version.js';

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

// Wiring only: each part is built in ./controller/, ./kube/ and ./reconcile/; the order of building is the length.
export function createOperator(c: OperatorComponents, settings: Settings): Operator {
  const registry = new Registry();
  const kubeRequests = kubeRequestCounter(registry);
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
    reconcilerOptions(settings),
  );

  const version = packageVersion();
  let queue: WorkQueue | undefined;
  let leader: LeaderElector | undefined;
  let leading = !settings.leaderElect;
  const { reconcileTotal, reconcileErrors, reconcileDuration } = registerOperatorMetrics(
    registry,
    version,
    {
      networks: informers.networks,
      queueDepth: () => queue?.depth() ?? 0,
      leading: () => leading,
    },
  );

  const enqueue = (key: string | undefined, opts?: { now?: boolean }) => {
    if (key && queue && leading) queue.add(key, opts);
  };
  watchForChanges(informers, enqueue);

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

  const server = createHealthServer(settings.metricsAddress, registry, () => informers.synced());

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
    port: () => server.port(),
    async start() {
      log.info({ version }, 'peernet-operator starting');
      await server.listen();
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
      campaign = runCampaign(l, abort.signal, log, {
        onLead: () => {
          void waitSynced().then(() => {
            if (!abort.signal.aborted && l.isLeader()) startWorking();
          });
        },
        onLoss: async () => {
          leading = false;
          const q = queue;
          queue = undefined;
          await q?.stop();
        },
      });
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
        await server.close();
        log.info('stopped');
        resolveDone('stopped');
      })();
      return stopping;
    },
  };
}

/** The reconciler's options, from the operator's settings. */
function reconcilerOptions(settings: Settings): ReconcilerOptions {
  const labelled = (namespace: string | undefined, podLabels: Record<string, string>) =>
    namespace ? { namespace, podLabels } : undefined;
  const operator = labelled(
    settings.networkPolicyOperatorNamespace,
    settings.networkPolicyOperatorLabels,
  );
  const metrics = labelled(
    settings.networkPolicyMetricsNamespace,
    settings.networkPolicyMetricsLabels,
  );
  return {
    peerImage: settings.peerImage,
    clusterDomain: settings.clusterDomain,
    progressingRequeueMs: settings.progressingRequeueSeconds * 1000,
    readyResyncMs: settings.readyResyncSeconds * 1000,
    statusIntervalMs: settings.statusIntervalMs,
    reconcileTimeoutMs: settings.reconcileTimeoutMs,
    networkPolicy: {
      byDefault: settings.networkPolicy,
      ...(operator ? { operator } : {}),
      ...(metrics ? { metrics } : {}),
      apiCidrs: settings.networkPolicyApiCidrs,
    },
  };
}
