import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** What is needed to start (or restart) one server; stored in the state file. */
export interface CommandSpec {
  name: string;
  command: string;
  args: string[];
  logPath: string;
  /** What the process's command line starts with when `command` execs into it (nsenter). */
  exe?: string;
  /** Extra environment. */
  env?: Record<string, string>;
  /** Set once started. */
  pid?: number;
}

/** The command line a running server of this spec shows (for isRunning). */
export function exeOf(spec: CommandSpec): string {
  return spec.exe ?? spec.command;
}

/**
 * Starts a server detached in its own process group, appending stdout and stderr to its log
 * file, so it outlives the process that started it (`cluster up` exits, the servers stay).
 */
export function spawnDetached(spec: CommandSpec, env: NodeJS.ProcessEnv = process.env): number {
  const fd = openSync(spec.logPath, 'a');
  try {
    writeSync(
      fd,
      `\n==== ${new Date().toISOString()} starting ${spec.command} ${spec.args.join(' ')}\n`,
    );
    const child = spawn(spec.command, spec.args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...env, ...spec.env },
    });
    if (child.pid === undefined) throw new Error(`could not start ${spec.command}`);
    // Reap it if it exits while we are alive; never keep this process alive for it.
    child.on('error', () => undefined);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/**
 * True when `pid` is a live (not zombie) process whose command line contains `command`, so a
 * recycled pid from an old state file is not mistaken for our server.
 */
export function isRunning(pid: number, command?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    if (command !== undefined) {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
      return cmdline === command;
    }
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, wait up to `graceMs` for it to go, then SIGKILL and wait again. */
export async function stopProcess(
  pid: number,
  command: string | undefined,
  graceMs = 10_000,
): Promise<void> {
  if (!isRunning(pid, command)) return;
  signal(pid, 'SIGTERM');
  if (await waitGone(pid, command, graceMs)) return;
  signal(pid, 'SIGKILL');
  await waitGone(pid, command, 5_000);
}

/** Sends a signal to one process by its pid; a process that is already gone is fine. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

async function waitGone(pid: number, command: string | undefined, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isRunning(pid, command)) return true;
    await sleep(100);
  }
  return !isRunning(pid, command);
}

/** The last `n` lines of a log file (empty when it does not exist). */
export function tailFile(path: string, n = 20): string {
  try {
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    return lines.slice(-n).join('\n');
  } catch {
    return '';
  }
}
