import { spawn } from 'node:child_process';
import { LocalNodeCommandError } from './errors.js';

export interface RunOptions {
  /** Written to the command's stdin. */
  input?: string;
  /** Resolve with the output instead of throwing when the command fails. @default false */
  allowFail?: boolean;
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
    });
    let out = '';
    let err = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', (e) =>
      reject(new LocalNodeCommandError(`${cmd} ${args.join(' ')}`, null, e.message)),
    );
    child.on('close', (code) => {
      if (code === 0 || options.allowFail === true) resolve(out);
      else reject(new LocalNodeCommandError(`${cmd} ${args.join(' ')}`, code, err));
    });
    if (child.stdin !== null) {
      // A command may exit before reading all its input; its exit code tells what happened.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
  });
}

/** Quotes one word for `sh -c`. */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}
