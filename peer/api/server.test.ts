// The HTTP API against real daemons started in this process on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Libp2pRecord } from '@libp2p/record';
import { Key } from 'interface-datastore';
import { toString as uint8ArrayToString } from 'uint8arrays/to-string';
import { createServer, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../config.js';
import { startDaemon, type Daemon } from '../daemon.js';
import { MAX_VALUE_BYTES, recordKey, sealValue } from '../dht/keys.js';
import { RECORD_PREFIX } from '../dht/store.js';

const log = pino({ level: 'silent' });

async function start(extra: string[] = []): Promise<Daemon> {
  const config = parseConfig([
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    '--api',
    '127.0.0.1:0',
    '--drain-timeout',
    '2s',
    ...extra,
  ]);
  return startDaemon(config, log);
}

describe('HTTP API', () => {
  let a: Daemon;
  let b: Daemon;
  let base: string;
  const call = async (method: string, path: string, body?: string | Uint8Array, url = base) => {
    const res = await fetch(url + path, { method, body });
    const text = await res.text();
    let json: Record<string, unknown> | undefined;
    if ((res.headers.get('content-type') ?? '').includes('json'))
      json = JSON.parse(text) as Record<string, unknown>;
    return { status: res.status, text, json, headers: res.headers };
  };

  beforeAll(async () => {
    a = await start();
    base = `http://${a.api.address}`;
    const addr = a.node.getMultiaddrs()[0]!.toString();
    b = await start(['--bootstrap', addr]);
    const deadline = Date.now() + 20_000;
    while (a.records.routingTableSize === 0 || b.records.routingTableSize === 0) {
      if (Date.now() > deadline) throw new Error('peers did not find each other');
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 30_000);

  afterAll(async () => {
    await b?.stop({ drain: false });
    await a?.stop({ drain: false });
  });

  it('answers health, readiness and status', async () => {
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/readyz')).status).toBe(200);
    const st = await call('GET', '/v1/status');
    expect(st.status).toBe(200);
    expect(st.json).toMatchObject({ peerId: a.peerId, network: 'default', ready: true });
    expect(st.json?.routingTable).toBeGreaterThanOrEqual(1);
    expect(st.json?.connections).toBeGreaterThanOrEqual(1);
    expect((st.json?.addrs as string[])[0]).toContain(`/p2p/${a.peerId}`);
  });

  it('puts on one peer and gets on the other', async () => {
    const put = await call('PUT', '/v1/records/greeting', 'hello');
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ key: 'greeting', replicas: 1, stored: 1 });
    const got = await call('GET', '/v1/records/greeting', undefined, `http://${b.api.address}`);
    expect(got.status).toBe(200);
    expect(got.text).toBe('hello');
    expect(Number(got.headers.get('x-peernet-timestamp'))).toBeGreaterThan(0);
  });

  it('takes keys with slashes and escapes, and the newest value wins', async () => {
    expect((await call('PUT', `/v1/records/${encodeURIComponent('a/b c')}`, 'v1')).status).toBe(
      200,
    );
    await new Promise((r) => setTimeout(r, 5));
    expect((await call('PUT', `/v1/records/${encodeURIComponent('a/b c')}`, 'v2')).status).toBe(
      200,
    );
    expect(
      (await call('GET', '/v1/records/a%2Fb%20c', undefined, `http://${b.api.address}`)).text,
    ).toBe('v2');
  });

  it('announces and finds providers', async () => {
    expect(
      (await call('POST', '/v1/providers/thing', undefined, `http://${b.api.address}`)).status,
    ).toBe(200);
    const found = await call('GET', '/v1/providers/thing');
    expect(found.status).toBe(200);
    expect((found.json?.providers as Array<{ peerId: string }>).map((p) => p.peerId)).toContain(
      b.peerId,
    );
  });

  it('lists peers and pings a peer of the network by peer ID', async () => {
    const peers = await call('GET', '/v1/peers');
    expect((peers.json?.peers as Array<{ peerId: string }>).map((p) => p.peerId)).toContain(
      b.peerId,
    );
    const byId = await call('POST', `/v1/ping/${b.peerId}`);
    expect(byId.status).toBe(200);
    expect(byId.json).toEqual({ peerId: b.peerId, rttMs: expect.any(Number) });
  });

  it('refuses a multiaddr with 400 before any dial, the same for open and closed ports', async () => {
    // a TCP port that counts connections, and one that is closed
    let accepted = 0;
    const open: Server = createServer((sock) => {
      accepted++;
      sock.destroy();
    });
    await new Promise<void>((r) => open.listen(0, '127.0.0.1', r));
    const openPort = (open.address() as { port: number }).port;
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    try {
      const answers = [];
      for (const port of [openPort, closedPort]) {
        for (const target of [
          `/ip4/127.0.0.1/tcp/${port}`,
          `/ip4/127.0.0.1/tcp/${port}/p2p/${b.peerId}`,
        ]) {
          const r = await call('POST', `/v1/ping/${encodeURIComponent(target)}`);
          answers.push({ status: r.status, body: r.text });
        }
      }
      expect(answers[0]!.status).toBe(400);
      expect(JSON.parse(answers[0]!.body)).toEqual({ error: expect.any(String) });
      // one answer for all four: nothing about the address, let alone its port
      expect(new Set(answers.map((x) => JSON.stringify(x))).size).toBe(1);
      expect(accepted).toBe(0);
    } finally {
      await new Promise<void>((r) => open.close(() => r()));
    }
  });

  const bad: Array<[string, string, string | Uint8Array | undefined, number]> = [
    ['GET', '/v1/records/missing', undefined, 404],
    ['PUT', '/v1/records/k', '', 400],
    ['PUT', '/v1/records/k', new Uint8Array(MAX_VALUE_BYTES + 1), 413],
    ['PUT', '/v1/records/', 'v', 400],
    ['PUT', `/v1/records/${'x'.repeat(300)}`, 'v', 400],
    ['PUT', '/v1/records/bad%0Akey', 'v', 400],
    ['GET', '/v1/records/%E0%A4%A', undefined, 400],
    ['DELETE', '/v1/records/k', undefined, 405],
    ['POST', '/v1/records/k', 'v', 405],
    ['GET', '/v1/ping/x', undefined, 405],
    ['POST', '/v1/ping/not-a-peer', undefined, 400],
    ['POST', '/v1/ping/', undefined, 400],
    ['POST', `/v1/ping/${encodeURIComponent('/ip4/999.0.0.1/tcp/1')}`, undefined, 400],
    ['POST', `/v1/ping/${encodeURIComponent('/dns4/example.org/tcp/4001')}`, undefined, 400],
    ['POST', '/v1/ping/12D3KooWKULL2meeS7gDGHdbbkJKxKFC6kL5S7PqFwD8PEpdL6qy', undefined, 404],
    ['POST', '/v1/ping/12D3KooWKULL2meeS7gDGHdbbkJKxKFC6kL5S7PqFwD8PEpdL6qy/x', undefined, 400],
    ['GET', '/v1/providers/', undefined, 400],
    ['GET', '/nope', undefined, 404],
    ['GET', '/v1', undefined, 404],
    ['POST', '/healthz', undefined, 405],
  ];
  it.each(bad)(
    '%s %s answers %#: JSON error with status %i',
    async (method, path, body, status) => {
      const r = await call(method, path, body);
      expect(r.status).toBe(status);
      if (status !== 404 || path !== '/v1/records/missing')
        expect(typeof r.json?.error).toBe('string');
      expect(r.json?.error).toBeDefined();
      expect((await call('GET', '/healthz')).status).toBe(200);
    },
  );

  it('allows only the listed methods', async () => {
    const r = await call('PATCH', '/v1/records/k');
    expect(r.headers.get('allow')).toBe('PUT, GET');
  });

  it('serves Prometheus metrics', async () => {
    const r = await call('GET', '/metrics');
    expect(r.status).toBe(200);
    for (const name of [
      'peernet_routing_table_size',
      'peernet_connections',
      'peernet_records_stored',
      'peernet_dht_operation_duration_seconds_bucket',
      'peernet_http_requests_total',
      'process_resident_memory_bytes',
    ]) {
      expect(r.text).toContain(name);
    }
    // b dialled a (its bootstrap peer): a counts that connection as inbound
    expect(r.text).toMatch(/^peernet_connections_opened_total\{direction="inbound"\} [1-9]/m);
  });

  it('counts the DHT requests other peers send, by type', async () => {
    // b stores a record: its copy goes to a as a PUT_VALUE request
    const put = await call('PUT', '/v1/records/counted', 'v', `http://${b.api.address}`);
    expect(put.json).toMatchObject({ stored: 1 });
    const r = await call('GET', '/metrics');
    expect(r.text).toMatch(/^peernet_dht_requests_received_total\{type="PUT_VALUE"\} [1-9]/m);
  });

  it('drains: hands records over, then refuses writes with 503 and is not ready', async () => {
    const d = await call('POST', '/v1/drain', undefined, `http://${b.api.address}`);
    expect(d.status).toBe(200);
    expect(d.json?.handedOff).toBeGreaterThanOrEqual(1);
    const put = await call('PUT', '/v1/records/late', 'x', `http://${b.api.address}`);
    expect(put.status).toBe(503);
    expect((await call('GET', '/readyz', undefined, `http://${b.api.address}`)).status).toBe(503);
    expect(
      (await call('GET', '/v1/records/greeting', undefined, `http://${b.api.address}`)).status,
    ).toBe(200);
  });
});

describe('POST /v1/ping/{peerId}: only peers of the network', () => {
  let a: Daemon;
  const addrOf = (d: Daemon): string => d.node.getMultiaddrs()[0]!.toString();
  const ping = async (peerId: string) => {
    const res = await fetch(`http://${a.api.address}/v1/ping/${peerId}`, { method: 'POST' });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    a = await start();
  });
  afterAll(async () => {
    await a?.stop({ drain: false });
  });

  it('answers 404 for a peer that is not of this network, even when connected', async () => {
    const other = await start(['--network', 'another', '--bootstrap', addrOf(a)]);
    try {
      // a knows of `other` (it connected, and identify told a its protocols) but drops it
      const deadline = Date.now() + 10_000;
      while (!(await a.node.peerStore.has(other.node.peerId))) {
        if (Date.now() > deadline) throw new Error('the other peer never connected');
        await new Promise((r) => setTimeout(r, 50));
      }
      const r = await ping(other.peerId);
      expect(r.status).toBe(404);
      expect(r.json?.error).toEqual(expect.any(String));
    } finally {
      await other.stop({ drain: false });
    }
  });

  it('answers 502 with no detail when a known peer does not answer', async () => {
    const gone = await start(['--bootstrap', addrOf(a)]);
    const deadline = Date.now() + 20_000;
    while ((await ping(gone.peerId)).status !== 200) {
      if (Date.now() > deadline) throw new Error('the peer never became pingable');
      await new Promise((r) => setTimeout(r, 100));
    }
    await gone.stop({ drain: false });
    const r = await ping(gone.peerId);
    expect(r.status).toBe(502);
    expect(r.json).toEqual({ error: `ping ${gone.peerId}: no answer` });
  }, 30_000);
});

describe('quotas, counters and superseded writes', () => {
  const stops: Daemon[] = [];
  afterAll(async () => {
    for (const d of stops.reverse()) await d.stop({ drain: false });
  });
  const daemon = async (extra: string[] = []): Promise<Daemon> => {
    const d = await start(extra);
    stops.push(d);
    return d;
  };
  const http = async (d: Daemon, method: string, path: string, body?: string) => {
    const res = await fetch(`http://${d.api.address}${path}`, { method, body });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  it('answers 507 naming the quota once the peer holds --max-records records', async () => {
    const d = await daemon(['--max-records', '3', '--max-provider-records', '2']);
    for (let i = 0; i < 3; i++)
      expect((await http(d, 'PUT', `/v1/records/q${i}`, 'v')).status).toBe(200);
    const over = await http(d, 'PUT', '/v1/records/q3', 'v');
    expect(over).toEqual({
      status: 507,
      json: { error: expect.stringContaining('--max-records') },
    });
    // an overwrite of a held record still fits
    expect((await http(d, 'PUT', '/v1/records/q0', 'w')).status).toBe(200);
    expect((await http(d, 'POST', '/v1/providers/p0')).status).toBe(200);
    expect((await http(d, 'POST', '/v1/providers/p1')).status).toBe(200);
    const providers = await http(d, 'POST', '/v1/providers/p2');
    expect(providers).toEqual({
      status: 507,
      json: { error: expect.stringContaining('--max-provider-records') },
    });
    expect((await http(d, 'GET', '/v1/status')).json).toMatchObject({
      records: 3,
      providerRecords: 2,
      quotas: { records: 3, providerRecords: 2 },
    });
  });

  it('serves /v1/status and /metrics from counters, without walking the store', async () => {
    const d = await daemon();
    for (let i = 0; i < 20; i++) await http(d, 'PUT', `/v1/records/c${i}`, 'x'.repeat(100));
    const query = jest.spyOn(d.store, 'query');
    const queryKeys = jest.spyOn(d.store, 'queryKeys');
    const st = await http(d, 'GET', '/v1/status');
    const metrics = await (await fetch(`http://${d.api.address}/metrics`)).text();
    expect(query).not.toHaveBeenCalled();
    expect(queryKeys).not.toHaveBeenCalled();
    expect(st.json).toMatchObject({ records: 20, recordBytes: d.store.counts().recordBytes });
    expect(d.store.counts().recordBytes).toBeGreaterThan(20 * 100);
    expect(metrics).toMatch(/^peernet_records_stored 20$/m);
    expect(metrics).toMatch(
      new RegExp(`^peernet_record_bytes_stored ${d.store.counts().recordBytes}$`, 'm'),
    );
  });

  it('a PUT that meets a newer value on the peers it reaches answers superseded: true', async () => {
    const a = await daemon();
    const b = await daemon(['--bootstrap', a.node.getMultiaddrs()[0]!.toString()]);
    const deadline = Date.now() + 20_000;
    while (a.records.routingTableSize === 0 || b.records.routingTableSize === 0) {
      if (Date.now() > deadline) throw new Error('peers did not find each other');
      await new Promise((r) => setTimeout(r, 100));
    }
    // b holds a value written a minute ahead of now (a writer whose clock is ahead, within the
    // skew); a does not know it yet
    const dhtKey = recordKey('raced');
    const newer = sealValue(new TextEncoder().encode('newer'), Date.now() + 60_000);
    await b.store.put(
      new Key(`${RECORD_PREFIX}/${uint8ArrayToString(dhtKey, 'base32')}`, false),
      new Libp2pRecord(dhtKey, newer, new Date()).serialize(),
    );
    const put = await http(a, 'PUT', '/v1/records/raced', 'older');
    expect(put).toEqual({
      status: 200,
      json: { key: 'raced', replicas: 1, stored: 0, superseded: true },
    });
    // a learnt the newer value from b
    const got = await fetch(`http://${a.api.address}/v1/records/raced`);
    expect({ text: await got.text(), from: got.headers.get('x-peernet-from') }).toEqual({
      text: 'newer',
      from: 'local',
    });
    // a PUT with nothing newer around answers as before, without the flag
    expect((await http(a, 'PUT', '/v1/records/calm', 'v')).json).toEqual({
      key: 'calm',
      replicas: 1,
      stored: 1,
    });
  });

  it('two PUTs in a row through one peer: the second wins, even within one millisecond', async () => {
    const d = await daemon();
    // "b" then "a": same millisecond, smaller bytes; the writer's clock alone would keep "b"
    const results = [];
    for (const v of ['b', 'a', 'b', 'a'])
      results.push((await http(d, 'PUT', '/v1/records/same-ms', v)).json);
    expect(results.every((r) => r.superseded === undefined)).toBe(true);
    expect(await (await fetch(`http://${d.api.address}/v1/records/same-ms`)).text()).toBe('a');
  });
});

describe('--api-token-file: writes, drain and ping need the token', () => {
  const TOKEN = 'a'.repeat(16) + randomBytes(16).toString('hex');
  let dir: string;
  let t: Daemon;
  let other: Daemon;
  const send = async (method: string, path: string, auth?: string, body?: string) => {
    const headers: Record<string, string> = {};
    if (auth !== undefined) headers.authorization = auth;
    const res = await fetch(`http://${t.api.address}${path}`, { method, body, headers });
    const text = await res.text();
    const json = (res.headers.get('content-type') ?? '').includes('json')
      ? (JSON.parse(text) as Record<string, unknown>)
      : undefined;
    return { status: res.status, json, challenge: res.headers.get('www-authenticate') };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'peernet-token-'));
    await writeFile(join(dir, 'token'), `${TOKEN}\n`);
    t = await start(['--api-token-file', join(dir, 'token')]);
    other = await start(['--bootstrap', t.node.getMultiaddrs()[0]!.toString()]);
    const deadline = Date.now() + 20_000;
    while (t.records.routingTableSize === 0) {
      if (Date.now() > deadline) throw new Error('peers did not find each other');
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 30_000);
  afterAll(async () => {
    await other?.stop({ drain: false });
    await t?.stop({ drain: false });
    await rm(dir, { recursive: true, force: true });
  });

  const guarded = (): Array<[string, string, string | undefined]> => [
    ['PUT', '/v1/records/guarded', 'v'],
    ['POST', '/v1/providers/guarded', undefined],
    ['POST', `/v1/ping/${other.peerId}`, undefined],
    ['POST', '/v1/drain', undefined],
  ];

  it('refuses them without a token: 401, a JSON error and a Bearer challenge', async () => {
    for (const [method, path, body] of guarded()) {
      const r = await send(method, path, undefined, body);
      expect({ path, status: r.status, challenge: r.challenge }).toEqual({
        path,
        status: 401,
        challenge: 'Bearer realm="peernet"',
      });
      expect(r.json?.error).toEqual(expect.stringContaining('token'));
    }
    expect(t.store.counts().records).toBe(0);
  });

  it('refuses a wrong token, another scheme or a token with a suffix: 401 invalid_token', async () => {
    for (const auth of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, 'Bearer nope']) {
      const r = await send('PUT', '/v1/records/guarded', auth, 'v');
      expect({ auth, status: r.status, challenge: r.challenge }).toEqual({
        auth,
        status: 401,
        challenge: 'Bearer realm="peernet", error="invalid_token"',
      });
    }
    for (const auth of [`Basic ${TOKEN}`, TOKEN, `Bearer ${TOKEN} extra`]) {
      expect((await send('PUT', '/v1/records/guarded', auth, 'v')).status).toBe(401);
    }
  });

  it('leaves reads and probes open', async () => {
    for (const path of [
      '/healthz',
      '/readyz',
      '/metrics',
      '/v1/status',
      '/v1/peers',
      '/v1/providers/x',
    ])
      expect({ path, status: (await send('GET', path)).status }).toEqual({ path, status: 200 });
    expect((await send('GET', '/v1/records/missing')).status).toBe(404);
  });

  it('takes the token in X-Peernet-Api-Token too (the pod proxy drops Authorization)', async () => {
    const res = await fetch(`http://${t.api.address}/v1/records/by-header`, {
      method: 'PUT',
      body: 'v',
      headers: { 'x-peernet-api-token': TOKEN },
    });
    expect(res.status).toBe(200);
    const wrong = await fetch(`http://${t.api.address}/v1/records/by-header`, {
      method: 'PUT',
      body: 'v',
      headers: { 'x-peernet-api-token': 'wrong' },
    });
    expect(wrong.status).toBe(401);
  });

  it('takes a rotated token without a restart, refuses the old one, keeps the last good one over an invalid file', async () => {
    const file = join(dir, 'token');
    // replaced as the kubelet updates a Secret volume: a new file renamed over the old one
    const replace = async (text: string): Promise<void> => {
      await writeFile(`${file}.new`, text);
      await rename(`${file}.new`, file);
    };
    const putWith = async (token: string): Promise<number> =>
      (await send('PUT', '/v1/records/rotated', `Bearer ${token}`, 'v')).status;
    const until = async (what: string, ok: () => Promise<boolean>): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!(await ok())) {
        if (Date.now() > deadline) throw new Error(`not within 10 s: ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const rotated = 'b'.repeat(16) + randomBytes(16).toString('hex');
    await replace(`${rotated}\n`);
    await until('the rotated token taken', async () => (await putWith(rotated)) === 200);
    expect(await putWith(TOKEN)).toBe(401);
    await replace('short\n');
    await new Promise((r) => setTimeout(r, 500));
    expect(await putWith(rotated)).toBe(200);
    await replace(`${TOKEN}\n`);
    await until('the first token back', async () => (await putWith(TOKEN)) === 200);
  });

  it('takes them with the token (drain last: it stops writes)', async () => {
    const auth = `Bearer ${TOKEN}`;
    for (const [method, path, body] of guarded()) {
      const r = await send(method, path, auth, body);
      expect({ path, status: r.status }).toEqual({ path, status: 200 });
    }
    expect((await send('GET', '/v1/records/guarded')).status).toBe(200);
  });

  it('refuses an unreadable or short token file, naming the flag', async () => {
    await writeFile(join(dir, 'short'), 'abc\n');
    await expect(start(['--api-token-file', join(dir, 'short')])).rejects.toMatchObject({
      name: 'ConfigError',
      flag: '--api-token-file',
    });
    await expect(start(['--api-token-file', join(dir, 'missing')])).rejects.toMatchObject({
      name: 'ConfigError',
      flag: '--api-token-file',
    });
  });
});
