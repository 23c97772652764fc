// Every PeerNetwork in examples/ is one the schema takes (the API server's verdict on the same
// rules is pinned by test/cluster/operator-crd.test.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { parseSpec } from './schema.js';

const dir = fileURLToPath(new URL('../../../examples/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

describe('examples/', () => {
  test('holds examples', () => expect(files.length).toBeGreaterThan(4));
  test.each(files)('%s: every PeerNetwork parses', (file) => {
    const docs = parseAllDocuments(readFileSync(dir + file, 'utf8')).map(
      (d) => d.toJS() as { kind?: string; spec?: unknown },
    );
    const networks = docs.filter((d) => d.kind === 'PeerNetwork');
    expect(networks.length).toBeGreaterThan(0);
    for (const n of networks) expect(() => parseSpec(n.spec)).not.toThrow();
  });
});
