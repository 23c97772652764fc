// The typed client against the real HTTP API (startApiServer) over a fake daemon: each route's
// answer as its type, the token in either header, errors as PeerApiError with status and message,
// and the deadline and an unreachable peer as errors of their own.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import {
  createPeerApiClient,
  PeerApiError,
  PeerTimeoutError,
  PeerUnreachableError,
} from './client.js';
import { startApiServer, type ApiServer, type PeerApi } from './server.js';
import { TOKEN_HEADER, type StatusReply } from './types.js';

const TOKEN = 'the-token';
const STATUS: StatusReply = {
  peerId: '12D3KooWFake',
  addrs: ['/ip4/127.0.0.1/tcp/4001'],
  network: 'net',
  protocol: '/peernet/net/kad/1.0.0',
  dhtProfile: 'tuned',
  routingTable: 3,
  connections: 2,
  records: 1,
  recordBytes: 5,
  providerRecords: 0,
  ready: true,
  draining: false,
};

describe('peer API client', () => {
  let api: ApiServer;
  let base: string;
  let silent: Server;
  let silentBase: string;
  const store = new Map<string, Uint8Array>();
  const quorums: (number | undefined)[] = [];

  beforeAll(async () => {
    const fake: PeerApi = {
      status: () => Promise.resolve(STATUS),
      peers: () => Promise.resolve([{ peerId: 'p1', addrs: ['/ip4/10.0.0.1/tcp/4001'] }]),
      ready: () => true,
      put: (key, value) => {
        store.set(key, value);
        return Promise.resolve({ replicas: 3, stored: 2 });
      },
      get: (key, opts) => {
        quorums.push(opts?.quorum);
        const value = store.get(key);
        return Promise.resolve(value && { value, timestamp: 1234, from: 'p1' });
      },
      provide: () => Promise.resolve({ replicas: 3, stored: 3 }),
      findProviders: () => Promise.resolve([{ peerId: 'p1', addrs: [] }]),
      ping: (peer) => Promise.resolve({ peerId: peer.toString(), rttMs: 1 }),
      drain: () => Promise.resolve({ handedOff: 4 }),
    };
    api = await startApiServer({
      host: '127.0.0.1',
      port: 0,
      api: fake,
      log: pino({ level: 'silent' }),
      token: TOKEN,
    });
    base = `http://${api.address}`;
    silent = createServer(() => {
      // takes the request and never answers
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentBase = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await api.close();
    silent.closeAllConnections();
    await new Promise((r) => silent.close(r));
  });

  test('every route answers with its type; the token goes as a Bearer token', async () => {
    const c = createPeerApiClient({ baseUrl: `${base}/`, token: TOKEN });
    expect(c.baseUrl).toBe(base);
    expect(await c.put('a/b', 'value')).toEqual({ key: 'a/b', replicas: 3, stored: 2 });
    expect(await c.get('a/b', { quorum: 2 })).toEqual({
      value: new TextEncoder().encode('value'),
      timestamp: 1234,
      from: 'p1',
    });
    expect(quorums).toEqual([2]);
    expect(await c.get('missing')).toBeUndefined();
    expect(await c.provide('k')).toEqual({ key: 'k', replicas: 3, stored: 3 });
    expect(await c.providers('k')).toEqual({ key: 'k', providers: [{ peerId: 'p1', addrs: [] }] });
    expect((await c.peers()).peers).toHaveLength(1);
    expect(await c.status()).toEqual(STATUS);
    expect(await c.drain()).toEqual({ handedOff: 4 });
    expect(await c.healthz()).toBe(true);
    expect(await c.readyz()).toBe(true);
  });

  test('the token in X-Peernet-Api-Token works as well (the pod proxy form)', async () => {
    const c = createPeerApiClient({ baseUrl: base, token: TOKEN, tokenHeader: TOKEN_HEADER });
    expect((await c.put('via-header', 'v')).stored).toBe(2);
  });

  test('an error answer is PeerApiError with its status and the error of its JSON', async () => {
    const anonymous = createPeerApiClient({ baseUrl: base });
    const refused = await anonymous.put('k', 'v').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PeerApiError);
    expect(refused).toMatchObject({ name: 'PeerApiError', status: 401 });
    expect((refused as PeerApiError).error).toMatch(/API token/);
    expect((refused as PeerApiError).message).toMatch(/\(HTTP 401\)$/);
    const bad = await anonymous.get('k', { quorum: 0 }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ name: 'PeerApiError', status: 400 });
    const raw = await anonymous.request('DELETE', '/v1/status');
    expect(raw.status).toBe(405);
    expect(raw.contentType).toContain('application/json');
    expect(JSON.parse(raw.text)).toEqual({ error: expect.any(String) });
  });

  test('no answer within the deadline is PeerTimeoutError; a closed port PeerUnreachableError', async () => {
    const slow = createPeerApiClient({ baseUrl: silentBase, timeoutMs: 200 });
    const t0 = performance.now();
    await expect(slow.status()).rejects.toMatchObject({ name: 'PeerTimeoutError' });
    expect(performance.now() - t0).toBeLessThan(2000);
    await expect(slow.status()).rejects.toBeInstanceOf(PeerTimeoutError);
    const gone = createPeerApiClient({ baseUrl: 'http://127.0.0.1:1' });
    await expect(gone.status()).rejects.toBeInstanceOf(PeerUnreachableError);
  });

  test('a given transport decides how requests travel; its errors reach the caller as they are', async () => {
    const seen: string[] = [];
    const c = createPeerApiClient({
      baseUrl: '/proxy',
      token: TOKEN,
      tokenHeader: TOKEN_HEADER,
      transport: (req) => {
        seen.push(`${req.method} ${req.url} ${req.headers[TOKEN_HEADER]}`);
        if (req.url.endsWith('/v1/drain')) return Promise.reject(new RangeError('refused'));
        return Promise.resolve({ status: 200, body: new TextEncoder().encode('{"handedOff":1}') });
      },
    });
    expect(await c.ping('p 1')).toEqual({ handedOff: 1 });
    await expect(c.drain()).rejects.toBeInstanceOf(RangeError);
    expect(seen).toEqual([`POST /proxy/v1/ping/p%201 ${TOKEN}`, `POST /proxy/v1/drain ${TOKEN}`]);
  });
});
