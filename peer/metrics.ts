// Prometheus figures of one peer, on a registry of its own (several peers may share a process in
// tests). Gauges are read when scraped, so nothing has to be kept in step by hand.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type DhtOperation = 'put' | 'get' | 'provide' | 'find_providers';

export interface MetricSources {
  routingTableSize(): number;
  connections(): number;
  recordsStored(): Promise<number>;
  providerRecordsStored(): Promise<number>;
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
  /** connections opened, by who dialled (inbound, outbound) */
  connectionsOpened: Counter<'direction'>;
  /** DHT requests other peers sent this one, by message type */
  dhtRequestsReceived: Counter<'type'>;
}

export interface MetricsOptions {
  /** also export the process figures (CPU, RSS, event loop lag). @default true */
  processMetrics?: boolean;
}

export function createMetrics(sources: MetricSources, opts: MetricsOptions = {}): PeerMetrics {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });
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
    async collect() {
      this.set(await sources.recordsStored());
    },
  });
  new Gauge({
    name: 'peernet_provider_records_stored',
    help: "Provider records held in this peer's store",
    registers: [registry],
    async collect() {
      this.set(await sources.providerRecordsStored());
    },
  });
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
  };
}
