// Node's process figures (prom-client's default metrics) as the peer and the operator export
// them: prom-client names three gauges `*_total`, which Prometheus reserves for counters
// (promlint: `non-counter metrics should not have "_total" suffix`). They are dropped; their
// per-type gauges (nodejs_active_handles, nodejs_active_requests, nodejs_active_resources) stay,
// and sum() of one gives what was dropped.
//
// The event loop lag is sampled every 100 ms, not prom-client's 10 ms: that timer alone kept an
// idle process ~10 millicores busy (100 wake-ups a second); every 100 ms costs ~1.3.
import { collectDefaultMetrics, type Registry } from 'prom-client';

const MISNAMED = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export function collectProcessMetrics(registry: Registry, prefix = ''): void {
  collectDefaultMetrics({ register: registry, prefix, eventLoopMonitoringPrecision: 100 });
  for (const name of MISNAMED) registry.removeSingleMetric(prefix + name);
}
