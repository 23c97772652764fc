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
import { createPeerApiClient, PeerApiError, type PeerApiClient } from '../api/client.js';
import { DEFAULT_API_URL } from '../api/types.js';
import { packageVersion } from '../../common/version.js';

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
  let api = env.PEERNET_API && env.PEERNET_API !== '' ? env.PEERNET_API : DEFAULT_API_URL;
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

function need(args: string[], n: number, usage: string): string[] {
  if (args.length !== n) throw new UsageError(`usage: peerctl ${usage}`);
  return args;
}

/** A field of an API answer as text. */
const str = (v: unknown): string =>
  typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
  return new Uint8Array(Buffer.concat(chunks));
}

async function run(o: Options): Promise<number> {
  const out = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
  const printJson = (v: unknown): void => out(JSON.stringify(v, null, 2));
  const client = createPeerApiClient({
    baseUrl: o.api,
    ...(o.token !== undefined ? { token: o.token } : {}),
    timeoutMs: CALL_TIMEOUT_MS,
  });
  try {
    return await verb(o, client, out, printJson);
  } catch (err) {
    if (!(err instanceof PeerApiError)) throw err;
    if (o.json) printJson(err.reply ?? { error: err.error, status: err.status });
    process.stderr.write(`peerctl: ${err.message}\n`);
    return 1;
  }
}

// Long: one case per verb.
async function verb(
  o: Options,
  client: PeerApiClient,
  out: (s: string) => void,
  printJson: (v: unknown) => void,
): Promise<number> {
  const [verb, ...rest] = o.args;
  switch (verb) {
    case undefined:
    case 'help':
      out(USAGE);
      return verb == null ? 2 : 0;
    case 'put': {
      const [key, value] = need(rest, 2, 'put KEY VALUE');
      const body = value === '-' ? await readStdin() : new TextEncoder().encode(value);
      const r = await client.put(key!, body);
      if (o.json) printJson(r);
      else {
        const stored = `stored ${key} on ${str(r.stored ?? 0)} of ${str(r.replicas ?? 0)} peers`;
        // the PUT went through, but another value of the key is newer and stays current
        out(r.superseded === true ? `${stored}; superseded: a newer value exists` : stored);
      }
      return 0;
    }
    case 'get': {
      const [key] = need(rest, 1, 'get KEY');
      const r = await client.get(key!);
      if (r === undefined) {
        if (o.json) printJson({ error: `not found: ${key}` });
        process.stderr.write(`peerctl: not found: ${key}\n`);
        return 1;
      }
      if (o.json) printJson({ key, value: new TextDecoder().decode(r.value) });
      else process.stdout.write(r.value);
      return 0;
    }
    case 'provide': {
      const [key] = need(rest, 1, 'provide KEY');
      const r = await client.provide(key!);
      if (o.json) printJson(r);
      else
        out(
          `providing ${key} (announced to ${str(r.stored ?? 0)} of ${str(r.replicas ?? 0)} peers)`,
        );
      return 0;
    }
    case 'providers': {
      const [key] = need(rest, 1, 'providers KEY');
      const r = await client.providers(key!);
      if (o.json) printJson(r);
      else for (const p of r.providers ?? []) out(p.peerId);
      return 0;
    }
    case 'peers': {
      need(rest, 0, 'peers');
      const r = await client.peers();
      if (o.json) printJson(r);
      else for (const p of r.peers ?? []) out(`${p.peerId} ${p.addrs.join(' ')}`);
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
      const r = await client.ping(peer!);
      if (o.json) printJson(r);
      else out(`${str(r.peerId ?? peer)}: ${str(r.rttMs)} ms`);
      return 0;
    }
    case 'status': {
      need(rest, 0, 'status');
      const r = await client.status();
      if (o.json) printJson(r);
      else
        for (const [k, v] of Object.entries(r))
          out(`${k}: ${Array.isArray(v) ? v.join(' ') : str(v)}`);
      return 0;
    }
    case 'drain': {
      need(rest, 0, 'drain');
      const r = await client.drain();
      if (o.json) printJson(r);
      else out(`handed off ${str(r.handedOff ?? 0)} records`);
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
