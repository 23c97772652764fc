import { randomBytes } from 'node:crypto';
import {
  chown,
  mkdir,
  readdir,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
  lstat,
} from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Writes a Secret or ConfigMap volume the way the kubelet's atomic writer does: the files live in
 * a fresh `..<timestamp>` directory, `..data` is a symlink to it swapped with one rename, and every
 * visible name is a symlink through `..data`. A reader sees the old set or the new set, never a mix.
 * Returns false when the content was already there.
 */
export async function writeAtomicDir(
  dir: string,
  files: ReadonlyMap<string, Buffer>,
  options: { mode: number; uid?: number; gid?: number },
): Promise<boolean> {
  await mkdir(dir, { recursive: true });
  const dataLink = join(dir, '..data');
  const previous = await readlink(dataLink).catch(() => undefined);
  if (previous !== undefined && (await sameContent(join(dir, previous), files))) return false;

  const stamp = `..${new Date().toISOString().replace(/[:.]/g, '_')}.${randomBytes(4).toString('hex')}`;
  const target = join(dir, stamp);
  await mkdir(target, { mode: 0o755 });
  for (const [name, content] of files) {
    const path = join(target, name);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, content, { mode: options.mode });
    if (options.uid !== undefined) await chown(path, options.uid, options.gid ?? options.uid);
  }
  if (options.uid !== undefined) await chown(target, options.uid, options.gid ?? options.uid);
  const tmpLink = join(dir, '..data_tmp');
  await rm(tmpLink, { force: true });
  await symlink(stamp, tmpLink);
  await rename(tmpLink, dataLink);

  const top = new Set([...files.keys()].map((n) => n.split('/')[0] ?? n));
  for (const name of top) {
    const link = join(dir, name);
    if ((await readlink(link).catch(() => undefined)) !== join('..data', name)) {
      await rm(link, { force: true, recursive: true });
      await symlink(join('..data', name), link);
    }
  }
  for (const entry of await readdir(dir)) {
    if (entry.startsWith('..')) {
      if (entry !== '..data' && entry !== stamp)
        await rm(join(dir, entry), { recursive: true, force: true });
    } else if (!top.has(entry)) {
      await rm(join(dir, entry), { recursive: true, force: true });
    }
  }
  return true;
}

async function sameContent(dir: string, files: ReadonlyMap<string, Buffer>): Promise<boolean> {
  const { readFile } = await import('node:fs/promises');
  let count = 0;
  for (const [name, content] of files) {
    const have = await readFile(join(dir, name)).catch(() => undefined);
    if (have === undefined || !have.equals(content)) return false;
    count++;
  }
  const present = await listFiles(dir);
  return present === count;
}

async function listFiles(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    const st = await lstat(join(dir, entry));
    n += st.isDirectory() ? await listFiles(join(dir, entry)) : 1;
  }
  return n;
}

/** Key -> file path inside the volume, honouring `items` when given (only listed keys). */
export function projectKeys(
  data: ReadonlyMap<string, Buffer>,
  items: ReadonlyArray<{ key: string; path: string }> | undefined,
): Map<string, Buffer> {
  if (items === undefined || items.length === 0) return new Map(data);
  const out = new Map<string, Buffer>();
  for (const item of items) {
    const v = data.get(item.key);
    if (v !== undefined) out.set(item.path, v);
  }
  return out;
}

export interface HostsEntry {
  ip: string;
  names: string[];
}

/** The /etc/hosts of a pod: localhost, the pod itself, then the headless Service names. */
export function renderHosts(
  self: { ip: string; hostname: string },
  entries: readonly HostsEntry[],
): string {
  const lines = [
    '# Kubernetes-managed hosts file (peernet local node runtime).',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    `${self.ip}\t${self.hostname}`,
  ];
  for (const e of entries) lines.push(`${e.ip}\t${e.names.join(' ')}`);
  return `${lines.join('\n')}\n`;
}
