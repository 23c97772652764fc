// Prometheus figures of one peer, on a registry of its own (several peers may share a process in
// tests). Gauges are read when scraped, so nothing has to be kept in step by hand; what the store
// holds comes from its counters, never from a walk of it.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../common/process-metrics.js';
import type { QuotaName, Quotas } from './quotas.js';
import type { RefusalReason, StoreCounts } from './dht/store.js';

export type DhtOperation = 'put' | 'get' | 'provide' | 'find_providers';

export interface MetricSources {
  routingTableSize(): number;
  connections(): number;
  /** what the store holds (its counters) */
  stored(): StoreCounts;
  quotas: Quotas;
}

export interface PeerMetrics {
  registry: Registry;
  /** latency of the records service's DHT operations, by operation and outcome */
  dhtOperation: Histogram<'operation' | 'outcome'>;
  httpRequests: Counter<'method' | 'route' | 'code'>;
  httpDuration: Histogram<'method' | 'route'>;
  republished: Counter;
  handedOff: Counter<'kind'>;
  /** copies of other writers' records this peer placed on their closest peers (replicate requests) */
  forwarded: Counter;
  /** older copies a GET replaced with the newest it found (here or on the holders it met) */
  repaired: Counter;
  /** connections opened, by who dialled (inbound, outbound) */
  connectionsOpened: Counter<'direction'>;
  /** DHT requests other peers sent this one, by message type */
  dhtRequestsReceived: Counter<'type'>;
  /** records and provider records this peer refused to keep, by reason */
  refused: Counter<'reason'>;
}

/** the values of the `reason` label of peernet_records_refused_total */
export const REFUSAL_REASONS: readonly RefusalReason[] = [
  'max-records',
  'max-record-bytes',
  'max-provider-records',
  'max-providers-per-key',
  'stale',
  'future',
];

export interface MetricsOptions {
  /** also export the process figures (CPU, RSS, event loop lag). @default true */
  processMetrics?: boolean;
}

// Long: one declaration per metric.
export function createMetrics(sources: MetricSources, opts: MetricsOptions = {}): PeerMetrics {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectProcessMetrics(registry);
  new Gauge({
    name: 'peernet_routing_table_size',
    help: 'Peers in the DHT routing table',
    registers: [registry],
    collect() {
      this.set(sources.routingTableSize());
    },
  });
  new Gauge({
    name: 'peernet_connections',
    help: 'Open libp2p connections',
    registers: [registry],
    collect() {
      this.set(sources.connections());
    },
  });
  new Gauge({
    name: 'peernet_records_stored',
    help: "Value records held in this peer's store",
    registers: [registry],
    collect() {
      this.set(sources.stored().records);
    },
  });
  new Gauge({
    name: 'peernet_record_bytes_stored',
    help: "Bytes of the value records held in this peer's store",
    registers: [registry],
    collect() {
      this.set(sources.stored().recordBytes);
    },
  });
  new Gauge({
    name: 'peernet_provider_records_stored',
    help: "Provider records held in this peer's store",
    registers: [registry],
    collect() {
      this.set(sources.stored().providerRecords);
    },
  });
  const quota = new Gauge({
    name: 'peernet_quota',
    help: 'What this peer holds at most, by quota (its flag without --)',
    labelNames: ['quota'],
    registers: [registry],
  });
  const limits: Record<QuotaName, number> = {
    'max-records': sources.quotas.records,
    'max-record-bytes': sources.quotas.recordBytes,
    'max-provider-records': sources.quotas.providerRecords,
    'max-providers-per-key': sources.quotas.providersPerKey,
  };
  for (const [name, value] of Object.entries(limits)) quota.set({ quota: name }, value);
  const refused = new Counter({
    name: 'peernet_records_refused_total',
    help: 'Records and provider records this peer refused to keep, by reason (a quota, stale, future)',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of REFUSAL_REASONS) refused.inc({ reason }, 0);
  const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
  return {
    registry,
    dhtOperation: new Histogram({
      name: 'peernet_dht_operation_duration_seconds',
      help: 'Duration of DHT operations (put, get, provide, find_providers) by outcome',
      labelNames: ['operation', 'outcome'],
      buckets,
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'peernet_http_requests_total',
      help: 'HTTP API requests by method, route and status code',
      labelNames: ['method', 'route', 'code'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'peernet_http_request_duration_seconds',
      help: 'HTTP API request duration by method and route',
      labelNames: ['method', 'route'],
      buckets,
      registers: [registry],
    }),
    republished: new Counter({
      name: 'peernet_records_republished_total',
      help: 'Records re-put to the closest peers by the republisher',
      registers: [registry],
    }),
    handedOff: new Counter({
      name: 'peernet_handed_off_total',
      help: 'Records handed to other peers on drain, by kind (record, provider)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    forwarded: new Counter({
      name: 'peernet_records_forwarded_total',
      help: "Copies of other writers' records this peer placed on peers close to the key (replicate requests)",
      registers: [registry],
    }),
    repaired: new Counter({
      name: 'peernet_records_read_repaired_total',
      help: 'Older copies a GET replaced with the newest value it found (its own or a holder it met)',
      registers: [registry],
    }),
    connectionsOpened: new Counter({
      name: 'peernet_connections_opened_total',
      help: 'libp2p connections opened, by direction (inbound, outbound)',
      labelNames: ['direction'],
      registers: [registry],
    }),
    dhtRequestsReceived: new Counter({
      name: 'peernet_dht_requests_received_total',
      help: 'DHT requests other peers sent this one, by type (FIND_NODE, GET_VALUE, PUT_VALUE, ...)',
      labelNames: ['type'],
      registers: [registry],
    }),
    refused,
  };
}
