#!/usr/bin/env node
// peerctl: a client of one peer's HTTP API.
//   peerctl [--api URL] [--json] put KEY VALUE | get KEY | provide KEY | providers KEY
//                                | peers | ping PEERID | status | drain
//   peerctl --version
// URL defaults to $PEERNET_API, else http://127.0.0.1:5001. `get` prints the value and exits 1
// when it is not found; other failures exit 1 with the API's error on stderr; usage errors exit 2.
// The API token (for put, provide, ping, drain) comes from --api-token-file, else
// $PEERNET_API_TOKEN_FILE, else the file the operator mounts into its pods, when it exists.

import { existsSync, readFileSync } from 'node:fs';

/** Where operator-made pods mount the network's API token (operator/pods/names.ts). */
const POD_TOKEN_FILE = '/var/run/peernet/api/token';

const USAGE = `Usage: peerctl [--api URL] [--json] COMMAND
       peerctl --version
Commands:
  put KEY VALUE        store VALUE under KEY (VALUE "-" reads stdin)
  get KEY              print the value of KEY (exit 1 when not found)
  provide KEY          announce this peer as a provider of KEY
  providers KEY        list the providers of KEY
  peers                list connected peers
  ping PEERID          round-trip time to a peer of the network (by peer ID, never an address)
  status               peer ID, addresses, network, routing table, connections
  drain                hand records to other peers and stop taking writes
Options:
  --api URL            the peer's API (default $PEERNET_API or http://127.0.0.1:5001)
  --api-token-file P   the API token for put, provide, ping and drain (default
                       $PEERNET_API_TOKEN_FILE, else ${POD_TOKEN_FILE} when it exists)
  --json               print the API's JSON answer
  --version            print the version
`;

/**
 * `version` of the nearest package.json named `peernet` above this file. The same search as
 * ./version.ts (the daemon's), repeated because peerctl.js ships alone in the peer image
 * (Dockerfile.peer copies it without the other modules), so it imports nothing of ours.
 */
function packageVersion(): string {
  for (let dir = new URL('.', import.meta.url); ;) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === 'peernet' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here: look further up
    }
    const up = new URL('..', dir);
    if (up.href === dir.href) return 'unknown';
    dir = up;
  }
}

class UsageError extends Error {
  override name = 'UsageError';
}

interface Options {
  api: string;
  /** sent as `Authorization: Bearer` when set */
  token?: string;
  json: boolean;
  args: string[];
}

function parse(argv: string[], env: NodeJS.ProcessEnv): Options {
  let api = env.PEERNET_API && env.PEERNET_API !== '' ? env.PEERNET_API : 'http://127.0.0.1:5001';
  let json = false;
  let tokenFile =
    env.PEERNET_API_TOKEN_FILE && env.PEERNET_API_TOKEN_FILE !== ''
      ? env.PEERNET_API_TOKEN_FILE
      : undefined;
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--api') {
      const v = argv[++i];
      if (v == null) throw new UsageError('--api: expects a URL');
      api = v;
    } else if (a.startsWith('--api=')) api = a.slice(6);
    else if (a === '--api-token-file') {
      const v = argv[++i];
      if (v == null) throw new UsageError('--api-token-file: expects a path');
      tokenFile = v;
    } else if (a.startsWith('--api-token-file=')) tokenFile = a.slice('--api-token-file='.length);
    else if (a === '--json') json = true;
    else if (a === '--help' || a === '-h') args.unshift('help');
    else if (a === '--version' && args.length === 0) args.unshift('version');
    else if (a.startsWith('--') && args.length === 0) throw new UsageError(`${a}: unknown option`);
    else args.push(a);
  }
  if (!/^https?:\/\//.test(api)) api = `http://${api}`;
  try {
    new URL(api);
  } catch {
    throw new UsageError(`--api: expected a URL, got ${JSON.stringify(api)}`);
  }
  const token = readToken(tokenFile);
  return { api: api.replace(/\/+$/, ''), json, args, ...(token !== undefined ? { token } : {}) };
}

/** The token of a named file (which must be readable), else of the pod's file if there is one. */
function readToken(named: string | undefined): string | undefined {
  const path = named ?? (existsSync(POD_TOKEN_FILE) ? POD_TOKEN_FILE : undefined);
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--api-token-file: cannot read ${path}: ${(err as Error).message}`);
  }
  const token = text.trim();
  if (token === '') throw new UsageError(`--api-token-file: ${path} is empty`);
  return token;
}

/**
 * Every call gives up after this long: longer than any answer a working peer takes (a drain
 * waits at most its --drain-timeout, a PUT its write quorum's deadline).
 */
const CALL_TIMEOUT_MS = 120_000;

async function call(
  o: Pick<Options, 'api' | 'token'>,
  method: string,
  path: string,
  body?: Uint8Array,
): Promise<{ status: number; bytes: Uint8Array; json?: Record<string, unknown> }> {
  const { api } = o;
  const headers: Record<string, string> = {};
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
  let res: Response;
  let bytes: Uint8Array;
  const signal = AbortSignal.timeout(CALL_TIMEOUT_MS);
  try {
    res = await fetch(`${api}${path}`, { method, body, headers, signal });
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (err) {
    if (signal.aborted)
      throw new Error(
        `no answer from ${api} within ${CALL_TIMEOUT_MS / 1000} s (${method} ${path})`,
      );
    const cause = (err as Error & { cause?: Error }).cause;
    throw new Error(`cannot reach ${api}: ${cause?.message ?? (err as Error).message}`);
  }
  let json: Record<string, unknown> | undefined;
  if ((res.headers.get('content-type') ?? '').includes('application/json')) {
    try {
      json = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    } catch {
      // leave it raw
    }
  }
  return { status: res.status, bytes, json };
}

function need(args: string[], n: number, usage: string): string[] {
  if (args.length !== n) throw new UsageError(`usage: peerctl ${usage}`);
  return args;
}

const enc = (s: string): string => encodeURIComponent(s);
/** A field of an API answer as text. */
const str = (v: unknown): string =>
  typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
  return new Uint8Array(Buffer.concat(chunks));
}

async function run(o: Options): Promise<number> {
  const [verb, ...rest] = o.args;
  const out = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
  const printJson = (v: unknown): void => out(JSON.stringify(v, null, 2));
  const failed = (r: {
    status: number;
    json?: Record<string, unknown>;
    bytes: Uint8Array;
  }): number => {
    const msg =
      typeof r.json?.error === 'string' ? r.json.error : new TextDecoder().decode(r.bytes);
    if (o.json) printJson(r.json ?? { error: msg, status: r.status });
    process.stderr.write(`peerctl: ${msg} (HTTP ${r.status})\n`);
    return 1;
  };
  switch (verb) {
    case undefined:
    case 'help':
      out(USAGE);
      return verb == null ? 2 : 0;
    case 'put': {
      const [key, value] = need(rest, 2, 'put KEY VALUE');
      const body = value === '-' ? await readStdin() : new TextEncoder().encode(value);
      const r = await call(o, 'PUT', `/v1/records/${enc(key!)}`, body);
      if (r.status !== 200) return failed(r);
      if (o.json) printJson(r.json);
      else {
        const stored = `stored ${key} on ${str(r.json?.stored ?? 0)} of ${str(r.json?.replicas ?? 0)} peers`;
        // the PUT went through, but another value of the key is newer and stays current
        out(r.json?.superseded === true ? `${stored}; superseded: a newer value exists` : stored);
      }
      return 0;
    }
    case 'get': {
      const [key] = need(rest, 1, 'get KEY');
      const r = await call(o, 'GET', `/v1/records/${enc(key!)}`);
      if (r.status === 404) {
        if (o.json) printJson(r.json);
        process.stderr.write(`peerctl: not found: ${key}\n`);
        return 1;
      }
      if (r.status !== 200) return failed(r);
      if (o.json) printJson({ key, value: new TextDecoder().decode(r.bytes) });
      else process.stdout.write(r.bytes);
      return 0;
    }
    case 'provide': {
      const [key] = need(rest, 1, 'provide KEY');
      const r = await call(o, 'POST', `/v1/providers/${enc(key!)}`);
      if (r.status !== 200) return failed(r);
      if (o.json) printJson(r.json);
      else
        out(
          `providing ${key} (announced to ${str(r.json?.stored ?? 0)} of ${str(r.json?.replicas ?? 0)} peers)`,
        );
      return 0;
    }
    case 'providers': {
      const [key] = need(rest, 1, 'providers KEY');
      const r = await call(o, 'GET', `/v1/providers/${enc(key!)}`);
      if (r.status !== 200) return failed(r);
      if (o.json) printJson(r.json);
      else for (const p of (r.json?.providers ?? []) as Array<{ peerId: string }>) out(p.peerId);
      return 0;
    }
    case 'peers': {
      need(rest, 0, 'peers');
      const r = await call(o, 'GET', '/v1/peers');
      if (r.status !== 200) return failed(r);
      if (o.json) printJson(r.json);
      else
        for (const p of (r.json?.peers ?? []) as Array<{ peerId: string; addrs: string[] }>)
          out(`${p.peerId} ${p.addrs.join(' ')}`);
      return 0;
    }
    case 'version':
      out(packageVersion());
      return 0;
    case 'ping': {
      const [peer] = need(rest, 1, 'ping PEERID');
      // the API refuses anything but a peer ID (400); say so before asking it
      if (peer!.startsWith('/'))
        throw new UsageError('ping: expected a peer ID, not an address (see peerctl peers)');
      const r = await call(o, 'POST', `/v1/ping/${enc(peer!)}`);
      if (r.status !== 200) return failed(r);
      if (o.json) printJson(r.json);
      else out(`${str(r.json?.peerId ?? peer)}: ${str(r.json?.rttMs)} ms`);
      return 0;
    }
    case 'status': {
      need(rest, 0, 'status');
      const r = await call(o, 'GET', '/v1/status');
      if (r.status !== 200) return failed(r);
      if (o.json) printJson(r.json);
      else
        for (const [k, v] of Object.entries(r.json ?? {}))
          out(`${k}: ${Array.isArray(v) ? v.join(' ') : str(v)}`);
      return 0;
    }
    case 'drain': {
      need(rest, 0, 'drain');
      const r = await call(o, 'POST', '/v1/drain');
      if (r.status !== 200) return failed(r);
      if (o.json) printJson(r.json);
      else out(`handed off ${str(r.json?.handedOff ?? 0)} records`);
      return 0;
    }
    default:
      throw new UsageError(`${verb}: unknown command (see peerctl --help)`);
  }
}

async function main(): Promise<void> {
  let code: number;
  try {
    code = await run(parse(process.argv.slice(2), process.env));
  } catch (err) {
    process.stderr.write(`peerctl: ${(err as Error).message}\n`);
    code = err instanceof UsageError ? 2 : 1;
  }
  process.exitCode = code;
}

void main();
