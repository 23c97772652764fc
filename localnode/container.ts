import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { shQuote } from './exec.js';

/** How one container of a pod is started. */
export interface ContainerLaunch {
  /** The pod's network namespace (shared by its containers); undefined in the loopback fallback. */
  netns: string | undefined;
  /** The pod's address (the loopback fallback binds the peer to it instead of 0.0.0.0). */
  podIp: string;
  /** Pod directories bound onto the container's mount paths, in a mount namespace of its own. */
  mounts: ReadonlyArray<{ source: string; target: string; readOnly: boolean }>;
  /** Bound over /etc/hosts: the pod's names and its headless Services' pod names. */
  hostsFile: string;
  /** Scratch space for overlays that create missing mount points without touching the host. */
  scratchDir: string;
  env: Readonly<Record<string, string>>;
  /** securityContext.runAsUser / runAsGroup; root when unset. */
  uid?: number;
  gid?: number;
  /** argv: the program and its arguments. */
  argv: readonly string[];
  logFile: string;
}

/**
 * The shell run inside `ip netns exec <ns> unshare --mount --propagation private`: make the mount
 * points (an overlay over their nearest existing ancestor keeps the host's own tree untouched),
 * bind the pod's volumes and hosts file, drop to the container's user and exec the program.
 * Every step execs, so the pid the runtime holds is the program's.
 */
export function mountScript(
  launch: ContainerLaunch,
  exists: (p: string) => boolean = existsSync,
): string {
  const lines = ['set -e'];
  // The program itself may live under a mount path (a checkout in /tmp with an emptyDir at /tmp):
  // hold the top folder of each such path open now and bind it back after the mounts. The mount
  // is made from /proc/self/fd, which still names the host's folder once its path is covered.
  const keeps: string[] = [];
  // Only the runtime's own program (node and the peer script), never the container's arguments.
  for (const p of launch.argv.slice(0, 2).filter((a) => a.startsWith('/') && exists(a))) {
    for (const m of launch.mounts) {
      if (!p.startsWith(`${m.target}/`)) continue;
      const keep = `${m.target === '/' ? '' : m.target}/${p.slice(m.target.length + 1).split('/')[0] ?? ''}`;
      if (!keeps.includes(keep)) keeps.push(keep);
    }
  }
  if (keeps.length > 6) throw new Error('too many program paths under mount paths');
  keeps.forEach((k, i) => lines.push(`exec ${i + 3}<${shQuote(k)}`));
  const ancestors = new Set<string>();
  for (const m of launch.mounts) {
    let p = m.target;
    while (!exists(p)) p = dirname(p);
    if (p !== m.target) ancestors.add(p);
  }
  const sorted = [...ancestors].sort((x, y) => x.split('/').length - y.split('/').length);
  sorted.forEach((anc, i) => {
    const up = join(launch.scratchDir, `ovl${i}`, 'up');
    const work = join(launch.scratchDir, `ovl${i}`, 'work');
    lines.push(`mkdir -p ${shQuote(up)} ${shQuote(work)}`);
    lines.push(
      `mount -t overlay overlay -o ${shQuote(`lowerdir=${anc},upperdir=${up},workdir=${work}`)} ${shQuote(anc)}`,
    );
  });
  // A mount whose target hides one of our own sources (the state dir under /tmp, say) goes last.
  const ours = [launch.hostsFile, launch.scratchDir, ...launch.mounts.map((m) => m.source)];
  const hides = (target: string): boolean =>
    ours.some((p) => p === target || p.startsWith(`${target}/`));
  const depth = (m: { target: string }): number => m.target.split('/').length;
  const first = launch.mounts.filter((m) => !hides(m.target)).sort((x, y) => depth(x) - depth(y));
  const last = launch.mounts.filter((m) => hides(m.target)).sort((x, y) => depth(y) - depth(x));
  const bind = (m: { source: string; target: string; readOnly: boolean }): void => {
    lines.push(`mkdir -p ${shQuote(m.target)}`);
    lines.push(`mount --bind ${shQuote(m.source)} ${shQuote(m.target)}`);
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${shQuote(m.target)}`);
  };
  first.forEach(bind);
  lines.push(`mount --bind ${shQuote(launch.hostsFile)} /etc/hosts`);
  last.forEach(bind);
  keeps.forEach((k, i) => {
    lines.push(`mkdir -p ${shQuote(k)}`);
    lines.push(`mount --no-canonicalize --bind /proc/self/fd/${i + 3} ${shQuote(k)}`);
    lines.push(`exec ${i + 3}<&-`);
  });
  if (launch.uid !== undefined) {
    const gid = launch.gid ?? launch.uid;
    lines.push(`exec setpriv --reuid ${launch.uid} --regid ${gid} --clear-groups -- "$@"`);
  } else {
    lines.push('exec "$@"');
  }
  return lines.join('\n');
}

/** Module preloaded into the peer in the loopback fallback: resolves names from the pod's hosts file. */
export const loopbackHostsPreload = new URL('./loopback-hosts.js', import.meta.url).href;

/**
 * The loopback fallback has no mount namespace: paths under a mount path are rewritten to the
 * pod's directories, and 0.0.0.0 becomes the pod's own loopback address, in args and env values.
 */
export function loopbackCommand(launch: ContainerLaunch): {
  argv: string[];
  env: Record<string, string>;
} {
  const mounts = [...launch.mounts].sort((x, y) => y.target.length - x.target.length);
  const rewrite = (s: string): string => {
    let out = s
      .replaceAll('/ip4/0.0.0.0/', `/ip4/${launch.podIp}/`)
      .replace(/^0\.0\.0\.0:/, `${launch.podIp}:`);
    const eq = out.indexOf('=');
    const [head, path] =
      out.startsWith('/') || eq < 0 ? ['', out] : [out.slice(0, eq + 1), out.slice(eq + 1)];
    for (const m of mounts) {
      if (path === m.target || path.startsWith(`${m.target}/`)) {
        out = head + m.source + path.slice(m.target.length);
        break;
      }
    }
    return out;
  };
  // argv is [node, the peer program, ...the container's args]: the program is the host's own
  // file and is never rewritten, even when it lies under a mount path such as /tmp.
  const [node = process.execPath, program, ...rest] = launch.argv;
  return {
    argv: [
      node,
      '--import',
      loopbackHostsPreload,
      ...(program === undefined ? [] : [program]),
      ...rest.map(rewrite),
    ],
    env: {
      ...Object.fromEntries(Object.entries(launch.env).map(([k, v]) => [k, rewrite(v)])),
      PEERNET_LOCALNODE_HOSTS: launch.hostsFile,
    },
  };
}

/** Starts the container's process; its stdout and stderr are appended to the log file. */
export async function launchContainer(launch: ContainerLaunch): Promise<ChildProcess> {
  await mkdir(launch.scratchDir, { recursive: true });
  await mkdir(dirname(launch.logFile), { recursive: true });
  const log = await open(launch.logFile, 'a');
  try {
    const loopback = launch.netns === undefined ? loopbackCommand(launch) : undefined;
    await log.write(
      `--- ${new Date().toISOString()} starting: ${(loopback?.argv ?? launch.argv).join(' ')}\n`,
    );
    const netns = launch.netns;
    if (netns === undefined) {
      const { argv, env } = loopback ?? loopbackCommand(launch);
      return spawn(argv[0] ?? process.execPath, argv.slice(1), {
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...env },
        stdio: ['ignore', log.fd, log.fd],
        detached: true,
      });
    }
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        netns,
        'unshare',
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        mountScript(launch),
        'sh',
        ...launch.argv,
      ],
      {
        env: {
          PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          ...launch.env,
        },
        stdio: ['ignore', log.fd, log.fd],
        // Its own process group: a Ctrl-C at the terminal reaches the runtime, which stops pods in order.
        detached: true,
      },
    );
    return child;
  } finally {
    await log.close();
  }
}
