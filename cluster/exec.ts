import { spawn } from 'node:child_process';

/** A host command (ip, iptables, openssl, ctr, ...) exited non-zero. */
export class HostCommandError extends Error {
  override readonly name = 'HostCommandError';
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${command} exited ${code ?? 'on a signal'}: ${stderr.trim().slice(-500)}`);
  }
}

export interface RunOptions {
  /** Written to the command's stdin. */
  input?: string;
  /** Resolve with the output instead of throwing when the command fails. @default false */
  allowFail?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Killed (SIGKILL) after this long. @default 120000 */
  timeoutMs?: number;
}

/** Runs a short command to completion and returns its stdout. */
export function run(
  cmd: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: [options.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      timeout: options.timeoutMs ?? 120_000,
      killSignal: 'SIGKILL',
    });
    let out = '';
    let err = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', (e) =>
      reject(new HostCommandError(`${cmd} ${args.join(' ')}`, null, e.message)),
    );
    child.on('close', (code) => {
      if (code === 0 || options.allowFail === true) resolve(out);
      else reject(new HostCommandError(`${cmd} ${args.join(' ')}`, code, err));
    });
    if (child.stdin !== null) {
      // A command may exit before reading all its input; its exit code tells what happened.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
  });
}
