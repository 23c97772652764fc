// The chart's Grafana dashboard asks only for metrics the code registers: every metric name in
// every query (panels and variables) is one of the operator's or the peer's registries, by the
// names those registries really expose (a histogram's _bucket, _count and _sum included).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from '@jest/globals';
import type { Registry } from 'prom-client';
import { createMetrics } from '../peer/metrics.js';
import { createLogger } from './logger.js';
import { createOperator } from './operator.js';
import { parseSettings } from './settings.js';

const dashboardPath = fileURLToPath(
  new URL('../../charts/peernet-operator/dashboards/peernet.json', import.meta.url),
);

interface Target {
  expr: string;
}
interface Panel {
  title: string;
  type: string;
  targets?: Target[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; query?: string | { query: string } }[] };
}

/** The series names a registry exposes (`# TYPE` lines, with a histogram's three series). */
async function exposedNames(registry: Registry): Promise<Set<string>> {
  const names = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (m.type.toString() === 'histogram') {
      for (const s of ['_bucket', '_count', '_sum']) names.add(m.name + s);
    }
  }
  return names;
}

async function registeredNames(): Promise<Set<string>> {
  const peer = createMetrics({
    routingTableSize: () => 0,
    connections: () => 0,
    stored: () => ({ records: 0, recordBytes: 0, providerRecords: 0 }),
    quotas: { records: 1, recordBytes: 1, providerRecords: 1, providersPerKey: 1 },
  });
  // never started: building it registers its metrics and does no I/O
  const operator = createOperator(
    {
      access: {
        server: new URL('https://127.0.0.1:1'),
        rejectUnauthorized: true,
        headers: () => Promise.resolve({}),
      },
      logger: createLogger('silent'),
    },
    parseSettings([], {}),
  );
  return new Set([
    ...(await exposedNames(peer.registry)),
    ...(await exposedNames(operator.registry)),
  ]);
}

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
]);

/**
 * The metric names a PromQL expression selects: strings, label matchers, ranges and grouping
 * clauses removed, what is left that is neither a function (followed by `(`), a keyword nor a
 * number.
 */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const after = bare.slice(m.index + word.length).trimStart();
    if (after.startsWith('(') || PROMQL_WORDS.has(word)) continue;
    names.push(word);
  }
  return names;
}

function queries(d: Dashboard): { where: string; expr: string }[] {
  const out = d.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })),
  );
  for (const v of d.templating.list) {
    if (v.query === undefined || typeof v.query === 'string') continue;
    const q = /^label_values\((.*),\s*\w+\)$/.exec(v.query.query);
    if (q) out.push({ where: `variable $${v.name}`, expr: q[1]! });
  }
  return out;
}

describe('charts/peernet-operator/dashboards/peernet.json', () => {
  const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as Dashboard;

  test('metricNames finds the selected metrics and nothing else', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, operation) (rate(a_bucket{operation=~"put|get"}[$__rate_interval])))',
      ),
    ).toEqual(['a_bucket']);
    expect(metricNames('max by (namespace) (b{x="y"}) == 1 and on (namespace) c')).toEqual([
      'b',
      'c',
    ]);
  });

  test('every query selects metrics the operator or the peer registers', async () => {
    const known = await registeredNames();
    const qs = queries(dashboard);
    expect(qs.length).toBeGreaterThan(15);
    const unknown = qs.flatMap(({ where, expr }) => {
      const names = metricNames(expr);
      if (names.length === 0) return [`${where}: no metric in ${expr}`];
      return names.filter((n) => !known.has(n)).map((n) => `${where}: ${n}`);
    });
    expect(unknown).toEqual([]);
  });

  test('covers what issue 19 asks for', () => {
    const all = queries(dashboard)
      .map((q) => q.expr)
      .join('\n');
    for (const m of [
      'peernet_operator_peernetworks',
      'peernet_operator_peernetwork_phase',
      'peernet_operator_peernetwork_ready_peers',
      'peernet_routing_table_size',
      'peernet_dht_operation_duration_seconds_count',
      'peernet_dht_operation_duration_seconds_bucket',
      'peernet_records_stored',
      'peernet_record_bytes_stored',
      'peernet_operator_reconcile_total',
      'peernet_operator_reconcile_errors_total',
      'peernet_operator_reconcile_duration_seconds_bucket',
    ]) {
      expect(all).toContain(m);
    }
  });
});
