import { readFile } from 'node:fs/promises';
import { describe, expect, test } from '@jest/globals';
import { parse } from 'yaml';
import { buildCrd } from './crd.js';
import { SPEC_CASES } from './cases.js';
import { IMAGE_PATTERN, isLabelKey, isLabelValue } from './labels.js';
import {
  InvalidSpecError,
  checkName,
  checkUpdate,
  compareQuantities,
  parseSpec,
  resolveTopology,
  specSchema,
} from './schema.js';

/** zod's verdict in the API server's terms: undefined (accepted) or the field path refused. */
function zodVerdict(spec: unknown, old?: unknown): string | undefined {
  const r = specSchema.safeParse(spec);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    return ['spec', ...issue.path.map(String), ...keys.slice(0, 1)].join('.');
  }
  if (old !== undefined) {
    const msg = checkUpdate(parseSpec(old), r.data);
    if (msg) return msg.split(' ')[0];
  }
  return undefined;
}

describe('PeerNetwork schema', () => {
  test.each(SPEC_CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(zodVerdict(c.spec, c.old)).toBe(c.refusedAt);
  });

  test('defaults are applied as the API server applies them', () => {
    const spec = parseSpec({ topology: { mode: 'colocated' } });
    expect(spec.replicas).toBe(1);
    expect(spec.resources).toEqual({
      requests: { cpu: '50m', memory: '64Mi' },
      limits: { cpu: '500m', memory: '256Mi' },
    });
    expect(spec.privateNetwork).toBe(false);
    expect(resolveTopology(spec.topology)).toEqual({
      mode: 'colocated',
      peersPerPod: 2,
      spreadPolicy: 'Required',
      topologyKey: 'kubernetes.io/hostname',
      nodeSelector: {},
    });
    expect(resolveTopology(parseSpec({ topology: { mode: 'spread' } }).topology).peersPerPod).toBe(
      1,
    );
  });

  test('swarmKeySecret.key defaults to swarm.key', () => {
    const spec = parseSpec({
      topology: { mode: 'spread' },
      privateNetwork: true,
      swarmKeySecret: { name: 'mine' },
    });
    expect(spec.swarmKeySecret).toEqual({ name: 'mine', key: 'swarm.key' });
  });

  test('an invalid spec throws InvalidSpecError naming the field', () => {
    let err: unknown;
    try {
      parseSpec({ topology: { mode: 'spread', peersPerPod: 2 } });
    } catch (e) {
      err = e;
    }
    expect((err as Error).name).toBe('InvalidSpecError');
    expect(err).toBeInstanceOf(InvalidSpecError);
    expect((err as Error).message).toMatch(/^spec\.topology\.peersPerPod: /);
  });

  test.each([
    ['demo', true],
    ['a'.repeat(57), true],
    ['a'.repeat(58), false],
    ['9lives', false],
    ['Upper', false],
    ['ends-', false],
  ])('name %s valid: %s', (name, ok) => {
    expect(checkName(name) === undefined).toBe(ok);
  });
});

describe('the CRD', () => {
  const crd = buildCrd() as {
    spec: {
      versions: {
        subresources: unknown;
        additionalPrinterColumns: { name: string; jsonPath: string }[];
        schema: { openAPIV3Schema: Record<string, unknown> };
      }[];
      names: unknown;
    };
  };
  const version = crd.spec.versions[0]!;

  test('the committed crds/ and chart copies are what gen:crd renders now', async () => {
    for (const file of [
      'crds/peernetworks.peernet.io.yaml',
      'charts/peernet-operator/crds/peernetworks.peernet.io.yaml',
    ]) {
      const text = await readFile(new URL(`../../../${file}`, import.meta.url), 'utf8');
      expect(parse(text)).toEqual(crd);
    }
  });

  test('is structural: no $schema, no additionalProperties false, descriptions on every field', () => {
    const walk = (s: Record<string, unknown>, path: string) => {
      expect(s).not.toHaveProperty('$schema');
      expect(s.additionalProperties).not.toBe(false);
      if (path.split('.').length > 2 && path !== 'root.metadata' && !path.endsWith('[]')) {
        expect([path, typeof s.description]).toEqual([path, 'string']);
      }
      for (const [k, v] of Object.entries(
        (s.properties ?? {}) as Record<string, Record<string, unknown>>,
      )) {
        walk(v, `${path}.${k}`);
      }
      if (s.items) walk(s.items as Record<string, unknown>, `${path}[]`);
    };
    walk(version.schema.openAPIV3Schema, 'root');
  });

  test('names, subresources and printer columns', () => {
    expect(crd.spec.names).toMatchObject({
      kind: 'PeerNetwork',
      plural: 'peernetworks',
      shortNames: ['pn'],
    });
    expect(version.subresources).toEqual({
      status: {},
      scale: {
        specReplicasPath: '.spec.replicas',
        statusReplicasPath: '.status.replicas',
        labelSelectorPath: '.status.selector',
      },
    });
    expect(version.additionalPrinterColumns.map((c) => c.name.toUpperCase())).toEqual(
      expect.arrayContaining(['MODE', 'READY', 'PHASE', 'AGE']),
    );
  });

  test('the topology carries the CEL rules with field paths', () => {
    const spec = (
      version.schema.openAPIV3Schema.properties as Record<
        string,
        { properties: Record<string, Record<string, unknown>> }
      >
    ).spec;
    const rules = spec!.properties.topology!['x-kubernetes-validations'] as {
      fieldPath: string;
      message: string;
    }[];
    expect(rules.map((r) => r.fieldPath)).toEqual([
      '.peersPerPod',
      '.spreadPolicy',
      '.topologyKey',
      '.mode',
      '.peersPerPod',
    ]);
    for (const r of rules) expect(r.message).toMatch(/^spec\.topology\./);
  });

  const specProps = () =>
    (version.schema.openAPIV3Schema.properties as Record<string, Record<string, unknown>>).spec!;

  test('spec carries the swarmKeySecret rule, the one-node size caps, the exposed port ranges and storage, naming the field', () => {
    expect(specProps()['x-kubernetes-validations']).toEqual([
      expect.objectContaining({
        fieldPath: '.swarmKeySecret',
        message: expect.stringMatching(/^spec\.swarmKeySecret .*privateNetwork: true/),
      }),
      expect.objectContaining({
        fieldPath: '.replicas',
        message: expect.stringMatching(/^spec\.replicas must be at most 110 with mode sameNode/),
      }),
      expect.objectContaining({
        fieldPath: '.replicas',
        message: expect.stringMatching(/^spec\.replicas must be at most 110 with mode colocated/),
      }),
      expect.objectContaining({
        fieldPath: '.replicas',
        message: expect.stringMatching(/^spec\.replicas x spec\.topology\.peersPerPod .* 256/),
      }),
      expect.objectContaining({
        fieldPath: '.expose.basePort',
        message: expect.stringMatching(/^spec\.expose\.basePort: with type nodePort .*30000-32767/),
      }),
      expect.objectContaining({
        fieldPath: '.expose.basePort',
        message: expect.stringMatching(
          /^spec\.expose\.basePort: with type hostPort or hostNetwork .*65535/,
        ),
      }),
      expect.objectContaining({
        fieldPath: '.storage',
        message: expect.stringMatching(/^spec\.storage cannot be added or removed/),
      }),
      expect.objectContaining({
        fieldPath: '.expose.type',
        message: expect.stringMatching(
          /^spec\.expose\.type hostNetwork needs topology mode spread/,
        ),
      }),
    ]);
  });

  test('resources: requests <= limits with CEL quantity(), naming the request', () => {
    const resources = (specProps().properties as Record<string, Record<string, unknown>>)
      .resources!;
    const rules = resources['x-kubernetes-validations'] as { rule: string; fieldPath: string }[];
    expect(rules.map((r) => r.fieldPath)).toEqual(['.requests.cpu', '.requests.memory']);
    for (const r of rules) expect(r.rule).toMatch(/quantity\(self\.requests\.\w+\)\.compareTo/);
  });

  test('image and nodeSelector: a pattern, and CEL over the keys of a bounded map', () => {
    const props = specProps().properties as Record<string, Record<string, unknown>>;
    expect(props.image!.pattern).toBe(new RegExp(IMAGE_PATTERN).source);
    const topology = props.topology!.properties as Record<string, Record<string, unknown>>;
    const ns = topology.nodeSelector!;
    expect(ns.maxProperties).toBe(32);
    expect(ns['x-kubernetes-validations']).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/^spec\.topology\.nodeSelector keys/),
      }),
    ]);
    expect((ns.additionalProperties as Record<string, unknown>).pattern).toBeDefined();
  });
});

describe('quantities, labels and images as the API server reads them', () => {
  test.each([
    ['50m', '500m', -1],
    ['1', '1000m', 0],
    ['1Gi', '1024Mi', 0],
    ['1G', '900Mi', 1],
    ['0.5', '500m', 0],
    ['1e3', '1k', 0],
    ['1E', '1P', 1],
    ['.5Ki', '512', 0],
    ['2', '1999m', 1],
  ])('%s vs %s: %d', (a, b, want) => {
    expect(compareQuantities(a, b)).toBe(want);
  });

  test.each([
    ['kubernetes.io/hostname', true],
    ['topology.kubernetes.io/zone', true],
    ['a', true],
    ['A_b.c-D', true],
    ['x/' + 'n'.repeat(63), true],
    ['x/' + 'n'.repeat(64), false],
    ['', false],
    ['/name', false],
    ['a/b/c', false],
    ['UPPER.io/name', false],
    ['name-', false],
    ['has space', false],
  ])('label key %j: %s', (k, ok) => {
    expect(isLabelKey(k)).toBe(ok);
  });

  test.each([
    ['', true],
    ['v1.2_x-y', true],
    ['-v', false],
    ['v'.repeat(64), false],
  ])('label value %j: %s', (v, ok) => {
    expect(isLabelValue(v)).toBe(ok);
  });

  test.each([
    ['peernet/peer:0.1.0', true],
    ['docker.io/peernet/peer:0.1.0', true],
    ['localhost:5000/peer', true],
    ['registry.example.com:443/team/peer__x.y-z:v1_2', true],
    [`peer@sha256:${'f'.repeat(64)}`, true],
    ['peer:0.1.0 --privileged', false],
    ['peer;reboot', false],
    ['peer&&x', false],
    ["peer'x'", false],
    ['peer"x"', false],
    ['peer>x', false],
    ['peer\nx', false],
    ['peer:', false],
    ['/peer', false],
  ])('image %j: %s', (image, ok) => {
    expect(new RegExp(IMAGE_PATTERN).test(image)).toBe(ok);
  });
});
