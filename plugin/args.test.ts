import { describe, expect, test } from '@jest/globals';
import { parseArgs, type Command } from './args.js';
import { complete, scanWords, type CompletionLookup } from './completion.js';

const errorOf = (argv: string[]): Error | undefined => {
  try {
    parseArgs(argv);
  } catch (e) {
    return e as Error;
  }
  return undefined;
};

describe('kubectl peernet arguments', () => {
  test.each<[string[], Partial<Command>]>([
    [['status', 'net'], { verb: 'status', network: 'net', json: false }],
    [
      ['-n', 'team', 'put', 'net', 'k', 'v', '--context=prod'],
      { verb: 'put', network: 'net', key: 'k', value: 'v', namespace: 'team', context: 'prod' },
    ],
    [['get', 'net', 'k', '--json'], { verb: 'get', key: 'k', json: true }],
    [['get', 'net', 'k', '-o', 'json'], { verb: 'get', json: true }],
    [['providers', '--peer', 'net-2', 'net', 'k'], { verb: 'providers', peer: 'net-2' }],
    [['peers', 'net', '--kubeconfig', '/k'], { verb: 'peers', network: 'net', kubeconfig: '/k' }],
    [['ping', 'net', 'net-1'], { verb: 'ping', network: 'net', target: 'net-1' }],
    [['logs', 'net', '-f', '--tail=5'], { verb: 'logs', follow: true, tail: 5 }],
    [['logs', 'net'], { verb: 'logs', follow: false }],
    [['put', 'net', '--', '-k', '-'], { verb: 'put', key: '-k', value: '-' }],
    [['completion', 'zsh'], { verb: 'completion', shell: 'zsh' }],
    [['--version'], { verb: 'version' }],
    [['version'], { verb: 'version' }],
    [['status', 'net', '-h'], { verb: 'help' }],
    [['__complete', 'get', '-n', ''], { verb: '__complete', words: ['get', '-n', ''] }],
  ])('%j', (argv, want) => {
    expect(parseArgs(argv)).toMatchObject(want);
  });

  test.each([
    [[], /^no verb given/],
    [['stat', 'net'], /^stat: unknown verb/],
    [['put', 'net', 'k'], /^put: expected NETWORK KEY VALUE, got "net" "k"$/],
    [['status'], /^status: expected NETWORK, got none$/],
    [['status', 'Net_1'], /^status: "Net_1" is not a PeerNetwork name$/],
    [['get', 'net', ''], /^get: KEY is empty$/],
    [['status', 'net', '--bogus=1'], /^--bogus: unknown flag$/],
    [['status', 'net', '-n'], /^--namespace: expects a value$/],
    [['status', 'net', '--peer', 'x'], /^--peer: not a flag of status$/],
    [['get', 'net', 'k', '-f'], /^--follow: not a flag of get$/],
    [['logs', 'net', '--tail', 'ten'], /^--tail: expects a number of lines/],
    [['status', 'net', '-o', 'yaml'], /^--output: only "json" is supported/],
    [['ping', 'net', '/ip4/1.2.3.4/tcp/1'], /^ping: PEER is a peer ID or a peer name/],
    [['completion', 'fish'], /^completion: expected bash or zsh/],
    [['--json=yes', 'status', 'net'], /^--json: takes no value$/],
  ])('%j is a usage error: %s', (argv, want) => {
    const err = errorOf(argv);
    expect(err?.name).toBe('UsageError');
    expect(err?.message).toMatch(want);
    expect(err?.message).not.toContain('\n');
  });
});

describe('completion', () => {
  const asked: string[] = [];
  const lookup: CompletionLookup = {
    networks: () => (asked.push('networks'), Promise.resolve(['alpha', 'beta'])),
    namespaces: () => Promise.resolve(['default', 'team']),
    peers: (n) => (asked.push(`peers ${n}`), Promise.resolve(['alpha-0', 'alpha-1'])),
  };
  const lines = async (...words: string[]) => (await complete(words, lookup)).trimEnd().split('\n');

  test.each([
    [['p'], ['put', 'provide', 'providers', 'peers', 'ping', ':4']],
    [
      ['status', ''],
      ['alpha', 'beta', ':4'],
    ],
    [
      ['-n', 'team', 'get', 'b'],
      ['beta', ':4'],
    ],
    [
      ['ping', 'alpha', ''],
      ['alpha-0', 'alpha-1', ':4'],
    ],
    [
      ['get', 'alpha', '--peer', 'alpha-1'],
      ['alpha-1', ':4'],
    ],
    [
      ['status', 'alpha', '--na'],
      ['--namespace', ':4'],
    ],
    [
      ['--namespace', 't'],
      ['team', ':4'],
    ],
    [
      ['completion', ''],
      ['bash', 'zsh', ':4'],
    ],
    [['get', 'alpha', ''], [':4']],
  ])('%j', async (words, want) => {
    expect(await lines(...words)).toEqual(want);
  });

  test('the flags typed on the line are found for the lookups', () => {
    expect(scanWords(['-n', 'team', '--context=prod', 'get', 'x', ''])).toMatchObject({
      pos: ['get', 'x'],
      flags: new Map([
        ['--namespace', 'team'],
        ['--context', 'prod'],
      ]),
      partial: '',
    });
  });

  test('a failing lookup completes nothing', async () => {
    const r = await complete(['status', ''], {
      ...lookup,
      networks: () => Promise.reject(new Error('forbidden')),
    });
    expect(r).toBe(':4\n');
  });
});
