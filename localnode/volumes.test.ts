import { lstat, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { projectKeys, renderHosts, writeAtomicDir } from './volumes.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('writeAtomicDir', () => {
  test('files are symlinks through ..data; an update swaps ..data and drops removed keys', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'peernet-vol-'));
    dirs.push(dir);
    expect(
      await writeAtomicDir(
        dir,
        new Map([
          ['bootstrap.txt', Buffer.from('one\n')],
          ['old', Buffer.from('x')],
        ]),
        { mode: 0o644 },
      ),
    ).toBe(true);
    const first = await readlink(join(dir, '..data'));
    expect((await lstat(join(dir, 'bootstrap.txt'))).isSymbolicLink()).toBe(true);
    expect(await readFile(join(dir, 'bootstrap.txt'), 'utf8')).toBe('one\n');

    expect(
      await writeAtomicDir(
        dir,
        new Map([
          ['bootstrap.txt', Buffer.from('one\n')],
          ['old', Buffer.from('x')],
        ]),
        { mode: 0o644 },
      ),
    ).toBe(false);
    expect(
      await writeAtomicDir(dir, new Map([['bootstrap.txt', Buffer.from('two\n')]]), {
        mode: 0o644,
      }),
    ).toBe(true);
    expect(await readlink(join(dir, '..data'))).not.toBe(first);
    expect(await readFile(join(dir, 'bootstrap.txt'), 'utf8')).toBe('two\n');
    const entries = await readdir(dir);
    expect(entries.filter((e) => !e.startsWith('..'))).toEqual(['bootstrap.txt']);
    expect(entries.filter((e) => e.startsWith('..') && e !== '..data')).toHaveLength(1);
  });
});

test('projectKeys honours items', () => {
  const data = new Map([
    ['a', Buffer.from('1')],
    ['b', Buffer.from('2')],
  ]);
  expect([...projectKeys(data, undefined).keys()]).toEqual(['a', 'b']);
  expect([...projectKeys(data, [{ key: 'b', path: 'sub/b.txt' }]).keys()]).toEqual(['sub/b.txt']);
});

test('hosts file lists localhost, the pod and the headless names', () => {
  const text = renderHosts({ ip: '10.213.1.2', hostname: 'net-0' }, [
    { ip: '10.213.2.2', names: ['net-1.net-peers.ns.svc.cluster.local'] },
  ]);
  expect(text).toContain('127.0.0.1\tlocalhost\n');
  expect(text).toContain('10.213.1.2\tnet-0\n');
  expect(text).toContain('10.213.2.2\tnet-1.net-peers.ns.svc.cluster.local\n');
});
