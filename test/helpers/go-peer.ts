// A harness for interop/go's peernet-interop (a go-libp2p + go-libp2p-kad-dht peer): builds it
// through interop/build.sh when the cache lacks it, spawns it, and sends it one JSON command a
// line on stdin, reading one JSON answer a line on stdout (see interop/go/main.go).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { runBuildScript } from '../../cluster/binaries.js';
import { repoRoot } from './peers.js';

export const interopBuildScript = join(repoRoot, 'interop', 'build.sh');

/** The peernet-interop binary: cached, or built now (a few minutes from empty Go caches). */
export async function ensureGoPeer(onProgress?: (line: string) => void): Promise<string> {
  const dir = await runBuildScript(interopBuildScript, 'the Go interop peer', { onProgress });
  return join(dir, 'peernet-interop');
}

export interface GoPeerOptions {
  network: string;
  bootstrap?: string[];
  swarmKeyFile?: string;
  /** where its stderr goes */
  logPath: string;
}

export interface GoAnswer {
  ok: boolean;
  error?: string;
  [k: string]: unknown;
}

export class GoPeerError extends Error {
  override name = 'GoPeerError';
}

/** One running peernet-interop. */
export class GoPeer {
  peerId = '';
  addrs: string[] = [];
  private readonly waiting: ((line: string) => void)[] = [];
  private readonly exited: Promise<void>;
  private exitCode: number | null | undefined;

  private constructor(readonly child: ChildProcess) {
    // killed whatever happens to the test process
    const kill = (): void => void child.kill('SIGKILL');
    process.once('exit', kill);
    child.once('exit', () => process.off('exit', kill));
    createInterface({ input: child.stdout! }).on('line', (line) => this.waiting.shift()?.(line));
    this.exited = new Promise((res) =>
      child.once('exit', (code) => {
        this.exitCode = code;
        for (const w of this.waiting.splice(0)) w(JSON.stringify({ ok: false, error: 'exited' }));
        res();
      }),
    );
  }

  static async start(bin: string, opts: GoPeerOptions): Promise<GoPeer> {
    const args = ['--network', opts.network];
    for (const b of opts.bootstrap ?? []) args.push('--bootstrap', b);
    if (opts.swarmKeyFile) args.push('--swarm-key-file', opts.swarmKeyFile);
    mkdirSync(join(opts.logPath, '..'), { recursive: true });
    const fd = openSync(opts.logPath, 'a');
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', fd] });
    closeSync(fd);
    const p = new GoPeer(child);
    const started = JSON.parse(await p.nextLine()) as {
      event?: string;
      peerId?: string;
      addrs?: string[];
      error?: string;
    };
    if (started.event !== 'started' || !started.peerId) {
      throw new GoPeerError(
        `peernet-interop did not start (exit ${p.exitCode}); see ${opts.logPath}`,
      );
    }
    p.peerId = started.peerId;
    p.addrs = started.addrs ?? [];
    return p;
  }

  /** The first address, with /p2p/<peerId>. */
  get addr(): string {
    return this.addrs[0]!;
  }

  private nextLine(): Promise<string> {
    if (this.exitCode !== undefined) return Promise.resolve('{"ok":false,"error":"exited"}');
    return new Promise((res) => this.waiting.push(res));
  }

  /** Sends one command; resolves with its answer (ok false on failure, never throws). */
  async send(cmd: Record<string, unknown>): Promise<GoAnswer> {
    const line = this.nextLine();
    this.child.stdin!.write(JSON.stringify(cmd) + '\n');
    return JSON.parse(await line) as GoAnswer;
  }

  /** Like send, but throws GoPeerError unless the answer is ok. */
  async must(cmd: Record<string, unknown>): Promise<GoAnswer> {
    const a = await this.send(cmd);
    if (!a.ok) throw new GoPeerError(`${JSON.stringify(cmd)}: ${a.error}`);
    return a;
  }

  async stop(): Promise<void> {
    if (this.exitCode === undefined) {
      this.child.stdin!.end();
      const t = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await this.exited;
      clearTimeout(t);
    }
  }
}
