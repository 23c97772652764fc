// The peer calls' deadlines against local HTTP servers: one that answers, one that trickles its
// answer a byte at a time (each byte would reset a socket's idle timeout), one that never answers.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { askPeers, createPeerStatusClient, MAX_BODY } from './peers.js';

const STATUS = JSON.stringify({ routingTable: 7, connections: 3, draining: false, padding: 'x' });
const servers: http.Server[] = [];
const ports = { ok: 0, trickle: 0, silent: 0, drained: 0, guarded: 0, huge: 0 };
/** the trickling server's answers still being written (to end them after the tests) */
const trickling = new Set<NodeJS.Timeout>();

async function serve(handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  ports.ok = await serve((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(STATUS);
  });
  ports.drained = await serve((req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(
      req.url === '/v1/drain'
        ? JSON.stringify({ handedOff: 4 })
        : JSON.stringify({ routingTable: 2, connections: 1, draining: true }),
    );
  });
  // drains only with the token, as a peer started with --api-token-file
  ports.guarded = await serve((req, res) => {
    const ok = req.headers.authorization === 'Bearer t0ken-of-the-network';
    res.writeHead(ok ? 200 : 401, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(ok ? { handedOff: 2 } : { error: 'needs the API token' }));
  });
  // one byte every 50 ms: ~600 bytes take 30 s, far past any deadline under test
  ports.trickle = await serve((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    const body = `${' '.repeat(600)}${STATUS}`;
    let i = 0;
    const t = setInterval(() => {
      if (i >= body.length || res.destroyed) {
        clearInterval(t);
        trickling.delete(t);
        res.end();
        return;
      }
      res.write(body[i++]);
    }, 50);
    trickling.add(t);
  });
  // a 200 with a status padded past the size the operator reads
  ports.huge = await serve((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ routingTable: 7, connections: 3, padding: 'x'.repeat(MAX_BODY) }));
  });
  ports.silent = await serve(() => {
    // takes the request and never answers
  });
});

afterAll(async () => {
  for (const t of trickling) clearInterval(t);
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await p;
  return { value, ms: performance.now() - t0 };
}

test('drain sends the network API token; without it a guarded peer refuses', async () => {
  const client = createPeerStatusClient();
  expect(await client.drain('127.0.0.1', ports.guarded)).toBeUndefined();
  expect(await client.drain('127.0.0.1', ports.guarded, { token: 'wrong' })).toBeUndefined();
  expect(await client.drain('127.0.0.1', ports.guarded, { token: 't0ken-of-the-network' })).toBe(2);
});

describe('peer calls end at their deadline', () => {
  test('an answer in time is read', async () => {
    const client = createPeerStatusClient({ statusTimeoutMs: 1000 });
    expect(await client.status('127.0.0.1', ports.ok)).toEqual({ routingTable: 7, connections: 3 });
    expect(await client.status('127.0.0.1', ports.drained)).toEqual({
      routingTable: 2,
      connections: 1,
      draining: true,
    });
    expect(await client.drain('127.0.0.1', ports.drained)).toBe(4);
  });

  test.each<[string, 'trickle' | 'silent']>([
    ['trickles its answer a byte at a time', 'trickle'],
    ['never answers', 'silent'],
  ])('a peer that %s is given up at the deadline', async (_what, which) => {
    const deadline = 300;
    const client = createPeerStatusClient({ statusTimeoutMs: deadline, drainTimeoutMs: deadline });
    const status = await timed(client.status('127.0.0.1', ports[which]));
    expect(status.value).toBeUndefined();
    expect(status.ms).toBeGreaterThanOrEqual(deadline - 20);
    expect(status.ms).toBeLessThan(5 * deadline);
    const drain = await timed(client.drain('127.0.0.1', ports[which]));
    expect(drain.value).toBeUndefined();
    expect(drain.ms).toBeLessThan(5 * deadline);
  });

  test("the caller's signal ends a call at once", async () => {
    const client = createPeerStatusClient({ statusTimeoutMs: 60_000 });
    const signal = AbortSignal.timeout(100);
    const r = await timed(client.status('127.0.0.1', ports.trickle, { signal }));
    expect(r.value).toBeUndefined();
    expect(r.ms).toBeLessThan(500);
    // an aborted signal: no call at all
    const gone = await timed(client.status('127.0.0.1', ports.ok, { signal }));
    expect(gone.value).toBeUndefined();
    expect(gone.ms).toBeLessThan(50);
  });

  test('an answer over the size limit is no answer', async () => {
    const r = await timed(createPeerStatusClient().status('127.0.0.1', ports.huge));
    expect(r.value).toBeUndefined();
    expect(r.ms).toBeLessThan(1000);
  });

  test('a refused connection is no answer, at once', async () => {
    const free = await serve(() => {});
    const s = servers.pop()!;
    await new Promise((r) => s.close(r));
    const r = await timed(createPeerStatusClient().status('127.0.0.1', free));
    expect(r.value).toBeUndefined();
    expect(r.ms).toBeLessThan(500);
  });
});

describe('askPeers', () => {
  test('the answers by peer; the slow and silent ones are unanswered when the signal ends them', async () => {
    // the per-call deadline is long here: the caller's signal (a reconcile's deadline) cuts
    const client = createPeerStatusClient({ statusTimeoutMs: 60_000 });
    const targets = [
      { name: 'p-0', ip: '127.0.0.1', port: ports.ok },
      { name: 'p-1', ip: '127.0.0.1', port: ports.trickle },
      { name: 'p-2', ip: '127.0.0.1', port: ports.silent },
      { name: 'p-3', ip: '127.0.0.1', port: ports.drained },
    ];
    const r = await timed(
      askPeers(client, targets, { concurrency: 10, signal: AbortSignal.timeout(400) }),
    );
    expect(r.ms).toBeLessThan(5 * 400);
    expect([...r.value.answered.keys()].sort()).toEqual(['p-0', 'p-3']);
    expect(r.value.unanswered).toEqual(['p-1', 'p-2']);
  });

  test('after the signal no peer is asked: every one left is unanswered', async () => {
    const client = createPeerStatusClient({ statusTimeoutMs: 60_000 });
    // one at a time: the slow first peer uses up the deadline, the second is never asked
    const r = await timed(
      askPeers(
        client,
        [
          { name: 'slow', ip: '127.0.0.1', port: ports.silent },
          { name: 'fine', ip: '127.0.0.1', port: ports.ok },
        ],
        { concurrency: 1, signal: AbortSignal.timeout(200) },
      ),
    );
    expect(r.ms).toBeLessThan(1000);
    expect(r.value.unanswered).toEqual(['slow', 'fine']);
  });
});
