import { describe, expect, test } from '@jest/globals';
import { parseAbuseOptions } from './abuse-options.js';

describe('parseAbuseOptions', () => {
  test('defaults', () => {
    const o = parseAbuseOptions([]);
    expect(o).toMatchObject({
      peers: 3,
      floodMiB: 32,
      concurrency: 8,
      quota: '4MiB',
      baseline: true,
      records: 10_000,
      rounds: 3,
      hostile: [1, 4],
      hostilePods: 20,
      editEverySeconds: 2,
    });
  });

  test.each([
    [
      ['--records', '500', '--flood-mb', '4', '--rounds', '1'],
      { records: 500, floodMiB: 4, rounds: 1 },
    ],
    [['--hostile-networks', '2'], { hostile: [2] }],
    [['--hostile-networks', ''], { hostile: [] }],
    [['--no-baseline', '--quota', '8MiB'], { baseline: false, quota: '8MiB' }],
    [['--hostile-edit-every', '0'], { editEverySeconds: 0 }],
  ])('%j', (args, want) => {
    expect(parseAbuseOptions(args)).toMatchObject(want);
  });

  test.each([
    [['--bogus'], '--bogus: unknown flag (see --help)'],
    [['--records', 'x'], '--records: expected an integer 1..1000000, got "x"'],
    [['--records', '0'], '--records: expected an integer 1..1000000, got "0"'],
    [['--quota', '4KiB'], '--quota: expected a size such as 4MiB, got "4KiB"'],
    [['--hostile-networks', '4,1'], '--hostile-networks: expected ascending counts, got 4,1'],
    [['--records'], "--records: Option '--records <value>' argument missing"],
    [['extra'], 'unexpected argument extra'],
    [
      ['--skip-peers', '--skip-operator'],
      '--skip-peers: with --skip-operator nothing is left to run',
    ],
  ])('%j is refused in one line naming the flag', (args, message) => {
    expect(() => parseAbuseOptions(args)).toThrow(message);
  });
});
