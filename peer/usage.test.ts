// The flag table of docs/reference/peer.md is the one rendered from FLAG_HELP, row for row.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from '@jest/globals';
import { FLAG_NAMES } from './config.js';
import { USAGE, flagTable } from './usage.js';

const doc = readFileSync(
  fileURLToPath(new URL('../../docs/reference/peer.md', import.meta.url)),
  'utf8',
);

/** The rows of the Markdown table whose header starts with `| flag `, cells trimmed. */
function table(markdown: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^\|\s*flag\s*\|/.test(l));
  const rows: string[][] = [];
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith('|')) break;
    rows.push(
      l
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
  }
  return rows;
}

describe('the peer flags, described once', () => {
  test('docs/reference/peer.md shows the table rendered from FLAG_HELP', () => {
    expect(table(doc)).toEqual(flagTable());
  });

  test('--help names every flag', () => {
    for (const flag of FLAG_NAMES) expect(USAGE).toMatch(new RegExp(`^  --${flag}\\b`, 'm'));
  });
});
