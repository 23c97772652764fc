// The abuse benchmark's flags, parsed once; a bad one throws an Error of one line naming it.
import { parseArgs } from 'node:util';

export interface AbuseOptions {
  peers: number;
  floodMiB: number;
  concurrency: number;
  quota: string;
  records: number;
  unauthTries: number;
  baseline: boolean;
  rounds: number;
  hostile: number[];
  hostilePods: number;
  editEverySeconds: number;
  nodes: number;
  skipPeers: boolean;
  skipOperator: boolean;
}

export const usage = `  --peers N              peers in each network of the peer phases (default 3)
  --flood-mb N           MiB of 64 KiB PUTs in each write flood (default 32)
  --concurrency N        PUTs in flight during the flood (default 8)
  --quota SIZE           --max-record-bytes of the flooded network (default 4MiB)
  --no-baseline          skip the same flood against a network with default quotas
  --unauth-tries N       requests of each kind without a token, and with a wrong one (default 10)
  --records N            records the draining peer holds (default 10000)
  --rounds N             operator phase: scale rounds per condition (default 3)
  --hostile-networks L   operator phase: hostile networks present, one condition each,
                         comma-separated and ascending (default 1,4; 4 is the operator's workers)
  --hostile-pods N       pods of each hostile network (default 20)
  --hostile-edit-every S its owner edits each hostile network's spec (a PodDisruptionBudget
                         setting, no pod changes) every S seconds, so the operator keeps
                         reconciling it; 0: never, it is then asked on its 60 s resync (default 2)
  --nodes N              kwok nodes of the operator phase's control plane (default 6)
  --skip-peers           only the operator phase
  --skip-operator        only the peer phases`;

const SIZE = /^[1-9]\d*(MiB|GiB|Mi|Gi)$/;

export function parseAbuseOptions(args: string[]): AbuseOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        peers: { type: 'string', default: '3' },
        'flood-mb': { type: 'string', default: '32' },
        concurrency: { type: 'string', default: '8' },
        quota: { type: 'string', default: '4MiB' },
        'no-baseline': { type: 'boolean', default: false },
        'unauth-tries': { type: 'string', default: '10' },
        records: { type: 'string', default: '10000' },
        rounds: { type: 'string', default: '3' },
        'hostile-networks': { type: 'string', default: '1,4' },
        'hostile-pods': { type: 'string', default: '20' },
        'hostile-edit-every': { type: 'string', default: '2' },
        nodes: { type: 'string', default: '6' },
        'skip-peers': { type: 'boolean', default: false },
        'skip-operator': { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    const flag = /'(-{1,2}[^' ]+)/.exec((err as Error).message)?.[1] ?? 'arguments';
    const code = (err as { code?: string }).code;
    throw new Error(
      code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
        ? `${flag}: unknown flag (see --help)`
        : code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
          ? `unexpected argument ${/'([^']*)'/.exec((err as Error).message)?.[1] ?? ''}`.trim()
          : `${flag}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  const int = (flag: string, v: string, min: number, max = 1_000_000): number => {
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`--${flag}: expected an integer ${min}..${max}, got ${JSON.stringify(v)}`);
    return n;
  };
  if (!SIZE.test(values.quota))
    throw new Error(`--quota: expected a size such as 4MiB, got ${JSON.stringify(values.quota)}`);
  const hostile =
    values['hostile-networks'] === ''
      ? []
      : values['hostile-networks'].split(',').map((s) => int('hostile-networks', s.trim(), 1, 50));
  if (hostile.some((h, i) => i > 0 && h <= hostile[i - 1]!))
    throw new Error(
      `--hostile-networks: expected ascending counts, got ${values['hostile-networks']}`,
    );
  const o: AbuseOptions = {
    peers: int('peers', values.peers, 2, 20),
    floodMiB: int('flood-mb', values['flood-mb'], 1, 4096),
    concurrency: int('concurrency', values.concurrency, 1, 256),
    quota: values.quota,
    baseline: !values['no-baseline'],
    unauthTries: int('unauth-tries', values['unauth-tries'], 1, 1000),
    records: int('records', values.records, 1, 1_000_000),
    rounds: int('rounds', values.rounds, 1, 100),
    hostile,
    hostilePods: int('hostile-pods', values['hostile-pods'], 1, 500),
    editEverySeconds: int('hostile-edit-every', values['hostile-edit-every'], 0, 3600),
    nodes: int('nodes', values.nodes, 1, 500),
    skipPeers: values['skip-peers'],
    skipOperator: values['skip-operator'],
  };
  if (o.skipPeers && o.skipOperator)
    throw new Error('--skip-peers: with --skip-operator nothing is left to run');
  return o;
}
