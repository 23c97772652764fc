// The verbs against a stand-in API server (plain http): the PeerNetwork, pods, pods/log and the
// pod proxy to each peer's API, with the Kubernetes paths and Status errors. What the real API
// server and peers do is covered by test/e2e/kubectl-plugin.test.ts.
import http from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { stringify } from 'yaml';
import { runPlugin } from './run.js';

const NS = 'team';
const peers = [
  { name: 'net-0', pod: 'net-0', container: 'peer-0', peerId: 'id0', node: 'a', ready: false },
  { name: 'net-1', pod: 'net-1', container: 'peer-0', peerId: 'id1', node: 'b', ready: true },
  { name: 'net-2', pod: 'net-2', container: 'peer-0', peerId: 'id2', node: 'c', ready: true },
];
const records = new Map<string, Buffer>();
const requests: string[] = [];
/** pods whose proxy fails as the API server's does when it cannot dial */
const unreachable = new Set(['net-0']);

function status(res: http.ServerResponse, code: number, message: string): void {
  res
    .writeHead(code, { 'content-type': 'application/json' })
    .end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code }));
}

async function body(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const server = http.createServer((req, res) => {
  void (async () => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    requests.push(`${req.method} ${path}`);
    if (req.headers.authorization !== 'Bearer secret') return status(res, 401, 'Unauthorized');
    const sendJson = (v: unknown, code = 200) =>
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(v));
    const base = `/gateway/api/v1/namespaces/${NS}/pods/`;
    if (path === `/gateway/apis/peernet.io/v1alpha1/namespaces/${NS}/peernetworks/net`)
      return sendJson({
        apiVersion: 'peernet.io/v1alpha1',
        kind: 'PeerNetwork',
        metadata: { name: 'net', namespace: NS, uid: 'u' },
        status: { phase: 'Ready', readyPeers: 2, desiredPeers: 3, peers },
      });
    if (path === `/gateway/apis/peernet.io/v1alpha1/namespaces/${NS}/peernetworks`)
      return sendJson({ items: [{ metadata: { name: 'net' } }] });
    if (path.startsWith(`/gateway/apis/peernet.io/v1alpha1/namespaces/${NS}/peernetworks/`))
      return status(res, 404, 'peernetworks.peernet.io "x" not found');
    if (path === `/gateway/api/v1/namespaces/${NS}/pods`) {
      expect(url.searchParams.get('labelSelector')).toBe(
        'app.kubernetes.io/name=peernet,app.kubernetes.io/instance=net',
      );
      // out of order, and a container that is no peer
      return sendJson({
        items: ['net-2', 'net-10', 'net-1'].map((name) => ({
          metadata: { name },
          spec: { containers: [{ name: 'peer-0' }, { name: 'sidecar' }] },
        })),
      });
    }
    const log = /^([^/]+)\/log$/.exec(path.slice(base.length));
    if (path.startsWith(base) && log) {
      const pod = log[1]!;
      if (pod === 'net-10') return status(res, 400, 'container "peer-0" is waiting to start');
      const tail = url.searchParams.get('tailLines');
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(`${pod} started\n${pod} tail=${tail}\n`);
    }
    const proxy = /^([^/:]+):(\d+)\/proxy(\/.*)$/.exec(path.slice(base.length));
    if (path.startsWith(base) && proxy) {
      const [, pod, port, rest] = proxy;
      if (port !== '5001') return status(res, 503, `dial tcp: connection refused`);
      if (unreachable.has(pod!)) return status(res, 503, 'error trying to reach service');
      const p = peers.find((x) => x.pod === pod)!;
      if (rest === '/v1/status')
        return sendJson({
          peerId: p.peerId,
          addrs: [],
          network: 'net',
          routingTable: 2,
          connections: 2,
          records: records.size,
        });
      if (rest?.startsWith('/v1/records/')) {
        const key = decodeURIComponent(rest.slice('/v1/records/'.length));
        if (req.method === 'PUT') {
          records.set(key, await body(req));
          return sendJson({ key, stored: 2, replicas: 3 });
        }
        const v = records.get(key);
        if (!v) return sendJson({ error: `not found: ${key}` }, 404);
        return res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(v);
      }
      if (rest === '/v1/peers')
        return sendJson({ peers: [{ peerId: 'id2', addrs: ['/ip4/10.0.0.3/tcp/4001'] }] });
      if (rest?.startsWith('/v1/ping/'))
        return sendJson({ peerId: decodeURIComponent(rest.slice(9)), rttMs: 1.5 });
      return sendJson({ error: 'no such route' }, 404);
    }
    return status(res, 404, 'the server could not find the requested resource');
  })();
});

let dir = '';
let kubeconfig = '';
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  dir = await mkdtemp(join(tmpdir(), 'peernet-plugin-'));
  kubeconfig = join(dir, 'config');
  await writeFile(
    kubeconfig,
    stringify({
      'current-context': 'c',
      // a server behind a gateway's path prefix, as some hosted clusters are
      clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${port}/gateway` } }],
      users: [{ name: 'u', user: { token: 'secret' } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u', namespace: NS } }],
    }),
  );
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

async function plugin(
  args: string[],
  stdin = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (f: (s: string) => void) =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        f(chunk.toString());
        cb();
      },
    });
  const code = await runPlugin(args, {
    stdout: sink((s) => (stdout += s)),
    stderr: sink((s) => (stderr += s)),
    stdin: Readable.from([Buffer.from(stdin)]),
    env: { KUBECONFIG: kubeconfig, HOME: dir },
  });
  return { code, stdout, stderr };
}

describe('kubectl peernet against an API server', () => {
  test('status: a table of every peer, unreachable ones marked', async () => {
    const r = await plugin(['status', 'net']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.split('\n').slice(0, 3)).toEqual([
      'peernetwork/net in team: Ready, 2/3 peers ready',
      'PEER    POD     NODE   READY   ROUTING TABLE   CONNECTIONS   RECORDS',
      'net-0   net-0   a      false   <unknown>       <unknown>     <unknown>',
    ]);
    const j = JSON.parse((await plugin(['status', 'net', '--json'])).stdout) as {
      peers: { name: string; reachable: boolean; error?: string }[];
    };
    expect(j.peers.map((p) => [p.name, p.reachable])).toEqual([
      ['net-0', false],
      ['net-1', true],
      ['net-2', true],
    ]);
    expect(j.peers[0]?.error).toMatch(/pod net-0 port 5001: error trying to reach service/);
  });

  test('put and get through the first ready peer; stdin; not found exits 1', async () => {
    expect(await plugin(['put', 'net', 'k/1', 'v'])).toMatchObject({
      code: 0,
      stdout: 'stored k/1 on 2 of 3 peers (via net-1)\n',
    });
    expect(requests).toContain(
      `PUT /gateway/api/v1/namespaces/${NS}/pods/net-1:5001/proxy/v1/records/k%2F1`,
    );
    expect(await plugin(['get', 'net', 'k/1'])).toMatchObject({ code: 0, stdout: 'v' });
    expect((await plugin(['put', 'net', 'piped', '-'], 'from stdin')).code).toBe(0);
    const j = JSON.parse(
      (await plugin(['get', 'net', 'piped', '--json', '--peer', 'net-2'])).stdout,
    ) as unknown;
    expect(j).toEqual({ key: 'piped', value: 'from stdin', via: 'net-2' });
    expect(await plugin(['get', 'net', 'nope'])).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'kubectl-peernet: not found: nope\n',
    });
  });

  test('an unreachable ready peer is passed over; a named one is not', async () => {
    unreachable.add('net-1');
    try {
      expect((await plugin(['get', 'net', 'k/1', '--json'])).stdout).toMatch(/"via": "net-2"/);
      const r = await plugin(['get', 'net', 'k/1', '--peer', 'net-1']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        'kubectl-peernet: pod net-1 port 5001: error trying to reach service\n',
      );
    } finally {
      unreachable.delete('net-1');
    }
  });

  test('peers and ping, peer IDs named after the status', async () => {
    expect((await plugin(['peers', 'net'])).stdout).toBe(
      'PEER ID   PEER    ADDRESSES\nid2       net-2   /ip4/10.0.0.3/tcp/4001\n',
    );
    // net-2 pinged from another ready peer than itself
    expect((await plugin(['ping', 'net', 'net-2'])).stdout).toBe(
      'net-2 (id2): 1.5 ms from net-1\n',
    );
  });

  test('logs: every peer container in ordinal order, prefixed; failures named, exit 1', async () => {
    const r = await plugin(['logs', 'net', '--tail', '5']);
    expect(r.stdout).toBe(
      [
        '[net-1/peer-0] net-1 started',
        '[net-1/peer-0] net-1 tail=5',
        '[net-2/peer-0] net-2 started',
        '[net-2/peer-0] net-2 tail=5',
        '',
      ].join('\n'),
    );
    expect(r.stderr).toBe(
      'kubectl-peernet: logs of net-10/peer-0: container "peer-0" is waiting to start\n',
    );
    expect(r.code).toBe(1);
    const one = await plugin(['logs', 'net', '--peer', 'net-2', '--json']);
    expect(
      one.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
    ).toEqual([
      { pod: 'net-2', container: 'peer-0', line: 'net-2 started' },
      { pod: 'net-2', container: 'peer-0', line: 'net-2 tail=null' },
    ]);
  });

  test('a missing network, namespace from -n, and a refused token are one line each', async () => {
    expect(await plugin(['status', 'other'])).toMatchObject({
      code: 1,
      stderr: 'kubectl-peernet: peernetwork other not found in namespace team\n',
    });
    expect((await plugin(['status', 'net', '-n', 'elsewhere'])).stderr).toBe(
      'kubectl-peernet: peernetwork net not found in namespace elsewhere\n',
    );
    const bad = join(dir, 'bad');
    await writeFile(bad, (await readFile(kubeconfig, 'utf8')).replace('secret', 'wrong'));
    expect(await plugin(['status', 'net', '--kubeconfig', bad])).toMatchObject({
      code: 1,
      stderr: 'kubectl-peernet: Unauthorized\n',
    });
  });

  test('completion looks networks up in the cluster', async () => {
    expect((await plugin(['__complete', 'status', ''])).stdout).toBe('net\n:4\n');
    expect((await plugin(['__complete', 'ping', 'net', 'net-'])).stdout).toBe(
      'net-0\nnet-1\nnet-2\n:4\n',
    );
  });

  test('bad usage exits 2 with one line; --version needs no cluster', async () => {
    expect(await plugin(['get', 'net'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'kubectl-peernet: get: expected NETWORK KEY, got "net"\n',
    });
    const v = await plugin(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^\d+\.\d+\.\d+\S*\n$/);
  });
});
