// The operator's Prometheus metrics: its requests and reconciles, its queue and leadership, and
// per PeerNetwork the phase and peer counts from the cache (kube-state-metrics style).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { collectProcessMetrics } from '../../common/process-metrics.js';
import { PHASES, type PeerNetworkObject } from '../api/schema.js';
import type { Store } from '../kube/informers.js';

export interface ReconcileMetrics {
  reconcileTotal: Counter<'result'>;
  reconcileErrors: Counter;
  reconcileDuration: Histogram;
}

/** What the gauges read when scraped. */
export interface GaugeSources {
  networks: Store<PeerNetworkObject>;
  queueDepth(): number;
  leading(): boolean;
}

/** Requests sent to the API server (made first: the client counts into it). */
export function kubeRequestCounter(registry: Registry): Counter<'verb'> {
  return new Counter({
    name: 'peernet_operator_kube_requests_total',
    help: 'Requests sent to the API server, by HTTP verb (WATCH for watches)',
    labelNames: ['verb'],
    registers: [registry],
  });
}

export function registerOperatorMetrics(
  registry: Registry,
  version: string,
  from: GaugeSources,
): ReconcileMetrics {
  collectProcessMetrics(registry, 'peernet_operator_');
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
  new Gauge({
    name: 'peernet_operator_workqueue_depth',
    help: 'PeerNetwork keys waiting to be reconciled',
    registers: [registry],
    collect() {
      this.set(from.queueDepth());
    },
  });
  new Gauge({
    name: 'peernet_operator_leader',
    help: '1 when this replica is the leader',
    registers: [registry],
    collect() {
      this.set(from.leading() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'peernet_operator_peernetworks',
    help: 'PeerNetworks in the cache',
    registers: [registry],
    collect() {
      this.set(from.networks.list().length);
    },
  });
  registerNetworkGauges(registry, from.networks);
  return { reconcileTotal, reconcileErrors, reconcileDuration };
}

/**
 * Per network, from the status in the cache (the phase gauge is 1 for the current phase, 0 for
 * the others); every replica reports them, dashboards take max.
 */
function registerNetworkGauges(registry: Registry, networks: Store<PeerNetworkObject>): void {
  const netLabels = ['namespace', 'peernetwork'] as const;
  const byNetwork = (fill: (g: Gauge<'namespace' | 'peernetwork'>, n: PeerNetworkObject) => void) =>
    function (this: Gauge<'namespace' | 'peernetwork'>) {
      this.reset();
      for (const n of networks.list()) fill(this, n);
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
      for (const n of networks.list()) {
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
}
