// Bad input gets the documented error and never takes a peer down: every HTTP route answers the
// exact status docs/reference/peer.md gives for it (400, 401, 404, 405, 413) with JSON
// `{ error }`, every bad flag exits non-zero at once with one line naming it. Also the
// CLI's exit codes and the stable identity of a key file.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { mkdir, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../../peer/dht/keys.js';
import { readKeyFile } from '../../common/identity.js';
import { PeerGroup, makeKey, peerctl, peernetPeer, type PeerProcess } from '../helpers/peers.js';

jest.setTimeout(180_000);

const uniq = (): string => Math.random().toString(36).slice(2, 8);
/** Larger than any sane key limit, still well under Node's 16 KiB request-head limit. */
const HUGE_KEY = 'k'.repeat(10_000);
/** One byte over the key limit. */
const LONG_KEY = 'k'.repeat(MAX_KEY_BYTES + 1);
/** One byte over the value limit, and far over it. */
const LONG_VALUE = new Uint8Array(MAX_VALUE_BYTES + 1).fill(0x61);

/**
 * A PUT announcing (or streaming) a body far over the limit, over a bare socket. It sends twice
 * the limit, then waits for the answer: the peer must answer 413 without waiting for the rest.
 */
function putOversized(
  url: string,
  chunked: boolean,
): Promise<{ status: number; type: string; text: string }> {
  const { hostname, port, pathname } = new URL(url);
  const sent = new Uint8Array(2 * MAX_VALUE_BYTES).fill(0x61);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(port), hostname);
    let raw = '';
    sock.setEncoding('utf8');
    // the answer is complete once its content-length is in: the peer keeps the connection
    // (reading and dropping the rest of the body), so its close is not the signal
    const parse = (): { status: number; type: string; text: string } | undefined => {
      const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(raw);
      if (!m) return undefined;
      const type = /^content-type:\s*(.*)$/im.exec(m[2]!)?.[1] ?? '';
      const length = Number(/^content-length:\s*(\d+)/im.exec(m[2]!)?.[1] ?? NaN);
      if (Buffer.byteLength(m[3]!) < length) return undefined;
      return { status: Number(m[1]), type, text: m[3]! };
    };
    sock.on('data', (d: string) => {
      raw += d;
      const r = parse();
      if (r) {
        resolve(r);
        sock.destroy();
      }
    });
    sock.on('error', () => {}); // a reset after the answer changes nothing
    sock.on('close', () => {
      const r = parse();
      if (r) resolve(r);
      else reject(new Error(`no HTTP answer: ${JSON.stringify(raw.slice(0, 200))}`));
    });
    sock.setTimeout(30_000, () => sock.destroy());
    const head = chunked ? 'transfer-encoding: chunked' : `content-length: ${8 * 1024 * 1024}`;
    sock.write(`PUT ${pathname} HTTP/1.1\r\nhost: ${hostname}\r\n${head}\r\n\r\n`);
    sock.write(
      chunked ? Buffer.concat([Buffer.from(`${sent.byteLength.toString(16)}\r\n`), sent]) : sent,
    );
  });
}

describe('HTTP API: bad input gets its documented 4xx status as JSON and the peer keeps serving', () => {
  let group: PeerGroup;
  let p: PeerProcess;
  let other: PeerProcess;
  let strangerId: string;

  beforeAll(async () => {
    group = await PeerGroup.create('bad-http');
    const network = `test/badhttp-${uniq()}`;
    p = await group.start({ name: 'target', network });
    other = await group.start({ name: 'other', network, bootstrap: [p.addr] });
    strangerId = (await makeKey(group.path('stranger.key'))).peerId;
  });
  afterAll(() => group?.stop());

  // [method, what, expected status (docs/reference/peer.md, "Status codes"), path, body]
  const cases: [
    string,
    string,
    400 | 404 | 405 | 413,
    () => string,
    (() => string | Uint8Array) | undefined,
  ][] = [
    ['PUT', 'key one byte over the limit', 400, () => `/v1/records/${LONG_KEY}`, () => 'v'],
    ['GET', 'key one byte over the limit', 400, () => `/v1/records/${LONG_KEY}`, undefined],
    ['PUT', 'key with a control character', 400, () => '/v1/records/a%00b', () => 'v'],
    ['PUT', 'oversized key', 400, () => `/v1/records/${HUGE_KEY}`, () => 'v'],
    ['GET', 'oversized key', 400, () => `/v1/records/${HUGE_KEY}`, undefined],
    ['POST', 'oversized provider key', 400, () => `/v1/providers/${HUGE_KEY}`, undefined],
    ['GET', 'oversized provider key', 400, () => `/v1/providers/${HUGE_KEY}`, undefined],
    ['PUT', 'empty key', 400, () => '/v1/records/', () => 'v'],
    ['GET', 'empty key', 400, () => '/v1/records/', undefined],
    ['POST', 'empty provider key', 400, () => '/v1/providers/', undefined],
    ['PUT', 'malformed percent-encoding in the key', 400, () => '/v1/records/%E0%A4%A', () => 'v'],
    ['PUT', 'empty body', 400, () => '/v1/records/empty-body', () => ''],
    ['PUT', 'body one byte over the limit', 413, () => '/v1/records/long-body', () => LONG_VALUE],
    ['POST', 'unknown peer ID', 404, () => `/v1/ping/${strangerId}`, undefined],
    [
      'POST',
      'malformed multiaddr',
      400,
      () => `/v1/ping/${encodeURIComponent('/ip4/999.1.1.1/tcp/x')}`,
      undefined,
    ],
    // ping takes a peer ID only, never an address to dial, even one of a peer of the network
    [
      'POST',
      'multiaddr of a peer',
      400,
      () => `/v1/ping/${encodeURIComponent(other.addr)}`,
      undefined,
    ],
    [
      'POST',
      'multiaddr of a closed port',
      400,
      () => `/v1/ping/${encodeURIComponent('/ip4/127.0.0.1/tcp/9')}`,
      undefined,
    ],
    ['POST', 'not a peer ID', 400, () => '/v1/ping/not-a-peer', undefined],
    ['POST', 'peer ID with a path after it', 400, () => `/v1/ping/${strangerId}/x`, undefined],
    ['POST', 'empty ping target', 400, () => '/v1/ping/', undefined],
    ['GET', 'unknown route', 404, () => '/v1/nothing-here', undefined],
    ['GET', 'unknown top-level route', 404, () => '/index.html', undefined],
    ['DELETE', 'wrong method on records', 405, () => '/v1/records/some-key', undefined],
    ['POST', 'wrong method on records', 405, () => '/v1/records/some-key', () => 'v'],
    ['PUT', 'wrong method on providers', 405, () => '/v1/providers/some-key', () => 'v'],
    ['POST', 'wrong method on status', 405, () => '/v1/status', () => '{}'],
    ['DELETE', 'wrong method on peers', 405, () => '/v1/peers', undefined],
    ['GET', 'wrong method on ping', 405, () => `/v1/ping/${strangerId}`, undefined],
    ['POST', 'wrong method on healthz', 405, () => '/healthz', undefined],
    ['PUT', 'wrong method on metrics', 405, () => '/metrics', () => 'x'],
  ];

  test.each(cases)('%s %s is %d', async (method, _what, expected, path, body) => {
    const r = await p.client.request(method, path(), body?.(), { timeoutMs: 60_000 });
    const seen = {
      method,
      path: path().slice(0, 80),
      status: r.status,
      body: r.text.slice(0, 200),
      log: p.logPath,
    };
    expect(seen).toEqual({ ...seen, status: expected });
    expect(r.contentType).toContain('application/json');
    expect(JSON.parse(r.text)).toEqual({ error: expect.any(String) });
    expect((JSON.parse(r.text) as { error: string }).error.length).toBeGreaterThan(0);
  });

  test.each([
    ['with content-length', false],
    ['chunked', true],
  ])('PUT of a body far over the limit (%s) is 413 JSON', async (_how, chunked) => {
    const r = await putOversized(`${p.apiUrl}/v1/records/huge-body`, chunked);
    expect({ status: r.status, text: r.text }).toMatchObject({ status: 413 });
    expect(r.type).toContain('application/json');
    expect(JSON.parse(r.text)).toEqual({ error: expect.any(String) });
  });

  test.each([
    ['with content-length', false],
    ['chunked', true],
  ])(
    'a Node client uploading 1 MiB (%s) reads the 413, not a reset connection',
    async (_how, chunked) => {
      const body = Buffer.alloc(1024 * 1024, 0x61);
      const { status, text } = await new Promise<{ status: number; text: string }>(
        (resolve, reject) => {
          const req = httpRequest(
            `${p.apiUrl}/v1/records/huge-upload`,
            {
              method: 'PUT',
              headers: chunked ? {} : { 'content-length': String(body.length) },
            },
            (res) => {
              let t = '';
              res.setEncoding('utf8');
              res.on('data', (d: string) => (t += d));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, text: t }));
            },
          );
          req.on('error', reject);
          // in pieces, as a file upload goes
          for (let i = 0; i < body.length; i += 64 * 1024)
            req.write(body.subarray(i, i + 64 * 1024));
          req.end();
        },
      );
      expect(status).toBe(413);
      expect(JSON.parse(text)).toEqual({ error: expect.any(String) });
    },
  );

  test('GET of a missing key is 404 with a JSON error', async () => {
    const r = await p.client.request('GET', '/v1/records/never-put');
    expect(r.status).toBe(404);
    expect(JSON.parse(r.text)).toEqual({ error: expect.any(String) });
  });

  test('afterwards the peer still serves reads, writes and probes', async () => {
    expect(p.running).toBe(true);
    expect((await p.client.request('GET', '/healthz')).status).toBe(200);
    expect(await p.client.ready()).toBe(true);
    await p.client.put('still-alive', 'yes');
    expect(await other.client.get('still-alive')).toBe('yes');
    const m = await p.client.request('GET', '/metrics');
    expect(m.status).toBe(200);
    expect(m.contentType).toContain('text/plain');
  });
});

describe('HTTP API with --api-token-file: writes, ping and drain without the token are 401', () => {
  const TOKEN = 'a-test-token-of-this-peer';
  let group: PeerGroup;
  let p: PeerProcess;

  beforeAll(async () => {
    group = await PeerGroup.create('bad-token');
    await mkdir(group.dir, { recursive: true });
    await writeFile(group.path('token'), `${TOKEN}\n`);
    p = await group.start({
      name: 'guarded',
      network: `test/badtoken-${uniq()}`,
      args: ['--api-token-file', group.path('token')],
    });
  });
  afterAll(() => group?.stop());

  const none = {};
  const wrong = { authorization: 'Bearer not-the-token' };
  const cases: [string, string, () => string, Record<string, string>][] = [
    ['PUT', 'a record without a token', () => '/v1/records/k', none],
    ['PUT', 'a record with a wrong token', () => '/v1/records/k', wrong],
    ['POST', 'a provider record without a token', () => '/v1/providers/k', none],
    ['POST', 'a ping without a token', () => `/v1/ping/${p.peerId}`, none],
    ['POST', 'a drain with a wrong token', () => '/v1/drain', wrong],
  ];

  test.each(cases)('%s %s is 401', async (method, _what, path, headers) => {
    const r = await p.client.request(method, path(), method === 'PUT' ? 'v' : undefined, {
      headers,
    });
    expect({ method, path: path(), status: r.status, body: r.text }).toEqual({
      method,
      path: path(),
      status: 401,
      body: expect.any(String),
    });
    expect(JSON.parse(r.text)).toEqual({ error: expect.any(String) });
  });

  test('with the token the same write is 200; reads stay open', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await p.client.request('PUT', '/v1/records/k', 'v', { headers: auth })).status).toBe(
      200,
    );
    expect(await p.client.get('k')).toBe('v');
  });
});

// 507 (a write beyond a quota) is in hardening.test.ts, which fills a peer up to its quota.

describe('flags: a bad value exits non-zero at once with one line naming the flag', () => {
  let group: PeerGroup;
  let garbageFile: string;
  let regularFile: string;
  let shortSwarmKey: string;

  beforeAll(async () => {
    group = await PeerGroup.create('bad-flags');
    garbageFile = group.path('garbage');
    regularFile = group.path('a-file');
    await mkdir(group.dir, { recursive: true });
    await writeFile(garbageFile, 'this is not a key\n');
    await writeFile(regularFile, 'x');
    shortSwarmKey = group.path('short.swarm');
    await writeFile(shortSwarmKey, `/key/swarm/psk/1.0.0/\n/base16/\n${'ab'.repeat(31)}\n`);
  });
  afterAll(() => group?.stop());

  // [flag the message must name, argv]: files are made in beforeAll, hence the functions
  const cases: [string, () => string[]][] = [
    ['--listen', () => ['--listen', 'not-a-multiaddr']],
    ['--api', () => ['--api', 'no-port-here']],
    ['--api', () => ['--api', '127.0.0.1:70000']],
    ['--api', () => ['--api']],
    ['--bootstrap', () => ['--bootstrap', 'garbage']],
    ['--bootstrap', () => ['--bootstrap', '/ip4/127.0.0.1/tcp/4001']],
    ['--network', () => ['--network', 'Bad Name!']],
    ['--network', () => ['--network', '-starts-with-dash']],
    ['--key-file', () => ['--key-file', garbageFile]],
    ['--key-file', () => ['--key-file', `${garbageFile}.missing`]],
    ['--swarm-key-file', () => ['--swarm-key-file', garbageFile]],
    ['--swarm-key-file', () => ['--swarm-key-file', `${garbageFile}.missing`]],
    ['--swarm-key-file', () => ['--swarm-key-file', shortSwarmKey]],
    ['--data-dir', () => ['--data-dir', `${regularFile}/sub`]],
    ['--log-level', () => ['--log-level', 'loud']],
    ['--dht-profile', () => ['--dht-profile', 'fast']],
    ['--replication', () => ['--replication', '0']],
    ['--republish-interval', () => ['--republish-interval', 'soon']],
    ['--drain-timeout', () => ['--drain-timeout', '-1']],
    ['--max-connections', () => ['--max-connections', 'lots']],
    ['--bogus', () => ['--bogus']],
  ];
  const labelled = cases.map(
    ([flag, argv]) => [flag, argv().join(' ').replaceAll('undefined', '<file>'), argv] as const,
  );

  test.each(labelled)('%s: %s', async (flag, _label, argv) => {
    // a free API port and an ephemeral listen port, so only the bad flag can be at fault
    const base = ['--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0'];
    const r = await peernetPeer([...base, ...argv()], { timeoutMs: 30_000 });
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '');
    const ctx = {
      argv: argv(),
      code: r.code,
      signal: r.signal,
      stderr: r.stderr,
      stdout: r.stdout,
    };
    expect([ctx, r.code !== 0 && r.code !== null]).toEqual([ctx, true]);
    expect([ctx, lines.length]).toEqual([ctx, 1]);
    expect([ctx, lines[0]?.includes(flag)]).toEqual([ctx, true]);
  });

  test('a bad value from the environment names the flag too', async () => {
    const r = await peernetPeer(['--api', '127.0.0.1:0'], {
      env: { PEERNET_LISTEN: 'not-a-multiaddr' },
      timeoutMs: 30_000,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--listen|PEERNET_LISTEN/);
  });
});

describe('CLI and identity', () => {
  let group: PeerGroup;
  beforeAll(async () => {
    group = await PeerGroup.create('cli-identity');
  });
  afterAll(() => group?.stop());

  test('keygen --out writes a key and prints its peer ID; the same key file gives the same peer ID across restarts', async () => {
    const out = group.path('made-by-keygen.key');
    const r = await peernetPeer(['keygen', '--out', out]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const id = (await readKeyFile(out)).peerId;
    expect(r.stdout.trim()).toContain(id);

    const network = `test/identity-${uniq()}`;
    const first = await group.start({ name: 'id-1', keyFile: out, network });
    expect(first.peerId).toBe(id);
    await first.stop();
    const second = await group.start({ name: 'id-2', keyFile: out, network });
    expect(second.peerId).toBe(id);
    await second.stop();
  });

  test('keygen without --out fails naming --out', async () => {
    const r = await peernetPeer(['keygen']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('--out');
  });

  test('without --key-file a fresh identity is made each start, with a warning', async () => {
    const network = `test/fresh-${uniq()}`;
    const a = await group.start({ name: 'fresh-1', keyFile: false, network });
    await a.stop();
    const b = await group.start({ name: 'fresh-2', keyFile: false, network });
    await b.stop();
    expect(a.peerId).not.toBe(b.peerId);
    expect(a.log()).toMatch(/key-file/);
  });

  test('peerctl get of a missing key exits 1; of a present key prints the value', async () => {
    const p = await group.start({ name: 'ctl', network: `test/ctl-${uniq()}` });
    const missing = await peerctl(p, ['get', 'no-such-key']);
    expect({ code: missing.code, stdout: missing.stdout }).toEqual({ code: 1, stdout: '' });
    expect((await peerctl(p, ['put', 'k', 'v'])).code).toBe(0);
    const present = await peerctl(p, ['get', 'k']);
    expect(present.code).toBe(0);
    expect(present.stdout.trim()).toBe('v');
  });

  test('peerctl put of a value over the limit fails with the reason, not a stack', async () => {
    const p = await group.start({ name: 'ctl-big', network: `test/ctlbig-${uniq()}` });
    const r = await peerctl(p, ['put', 'big', 'v'.repeat(MAX_VALUE_BYTES + 1)]);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBe(null);
    expect(r.stderr).toMatch(/limit|large/i);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('peerctl against an API that is not there fails with a message, not a stack', async () => {
    const r = await peerctl('http://127.0.0.1:9', ['status']);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBe(null);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
