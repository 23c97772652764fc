import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock } from '../reconcile/clock.js';
import { createKubeClient, KubeApiError, type KubeObject } from './client.js';
import { RESOURCES } from './resources.js';

/** A plain-http server that answers one watch with `chunks`, written apart, then ends it. */
async function watchServer(chunks: Buffer[]): Promise<{ url: URL; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    let i = 0;
    const next = (): void => {
      if (i === chunks.length) return void res.end();
      res.write(chunks[i++]);
      setImmediate(next);
    };
    next();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}`),
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

async function watchAll(chunks: Buffer[]): Promise<[string, KubeObject][]> {
  const s = await watchServer(chunks);
  try {
    const client = createKubeClient(
      { server: s.url, rejectUnauthorized: true, headers: () => Promise.resolve({}) },
      systemClock,
    );
    const got: [string, KubeObject][] = [];
    await client.watch(
      RESOURCES.Pod,
      'default',
      { resourceVersion: '1' },
      (type, obj) => got.push([type, obj]),
      new AbortController().signal,
    );
    client.close();
    return got;
  } finally {
    await s.close();
  }
}

/** `bytes` cut into pieces of `size` bytes (so multi-byte characters get split). */
function cut(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

describe('KubeClient.watch', () => {
  const event = (name: string, note: string): string =>
    JSON.stringify({
      type: 'MODIFIED',
      object: { kind: 'Pod', metadata: { name, annotations: { note } } },
    });

  it('reads events whose lines span chunks, with characters split between chunks', async () => {
    // a long line (like a 200-peer PeerNetwork) and non-ASCII text, cut every 7 bytes
    const long = 'x'.repeat(50_000);
    const body = Buffer.from(
      [event('a', 'grüße 🌍'), event('b', long), event('c', 'ÿ')].join('\n') + '\n',
    );
    const got = await watchAll(cut(body, 7));
    expect(got.map(([t, o]) => [t, o.metadata?.name, o.metadata?.annotations?.note])).toEqual([
      ['MODIFIED', 'a', 'grüße 🌍'],
      ['MODIFIED', 'b', long],
      ['MODIFIED', 'c', 'ÿ'],
    ]);
  });

  it('reads several events in one chunk and skips blank lines', async () => {
    const body = Buffer.from(`${event('a', '1')}\n\n${event('b', '2')}\n${event('c', '3')}\n`);
    const got = await watchAll([body]);
    expect(got.map(([, o]) => o.metadata?.name)).toEqual(['a', 'b', 'c']);
  });

  it('turns an ERROR event into a KubeApiError with its code', async () => {
    const err = JSON.stringify({
      type: 'ERROR',
      object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' },
    });
    const body = Buffer.from(`${event('a', '1')}\n${err}\n`);
    await expect(watchAll(cut(body, 10))).rejects.toMatchObject({
      constructor: KubeApiError,
      code: 410,
    });
  });
});
