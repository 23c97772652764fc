import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProbeOptions {
  /** PEM bundle to trust; when unset on https the certificate is not checked (self-signed health ports). */
  ca?: string;
  token?: string;
  timeoutMs?: number;
}

/** One GET; resolves to the status code (0 when nothing answered). */
export async function probe(url: string, options: ProbeOptions = {}): Promise<number> {
  const u = new URL(url);
  const isHttps = u.protocol === 'https:';
  const request = isHttps ? httpsRequest : httpRequest;
  return new Promise<number>((resolve) => {
    const req = request(
      u,
      {
        method: 'GET',
        timeout: options.timeoutMs ?? 2_000,
        headers: options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {},
        ...(isHttps ? { ca: options.ca, rejectUnauthorized: options.ca !== undefined } : {}),
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/**
 * Polls until `check` returns true or `deadlineMs` passes; `alive` is asked each round so a
 * server that crashed fails at once instead of at the deadline. Returns why it stopped.
 */
export async function waitFor(
  check: () => Promise<boolean>,
  options: { timeoutMs: number; alive?: () => boolean; intervalMs?: number },
): Promise<'ok' | 'timeout' | 'died'> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await check()) return 'ok';
    if (options.alive !== undefined && !options.alive()) return 'died';
    if (Date.now() > deadline) return 'timeout';
    await sleep(options.intervalMs ?? 200);
  }
}
