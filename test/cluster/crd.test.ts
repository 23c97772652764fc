// The PeerNetwork CRD in a real API server: schema validation, CEL rules, immutability,
// kubectl explain, printer columns, short name and the scale subresource. No operator runs
// here: everything tested is done by Kubernetes itself from crds/.
import { describe, expect, it, beforeAll } from '@jest/globals';
import { stringify } from 'yaml';
import { applyCrds } from '../helpers/cluster-crd.js';
import { useCluster } from '../helpers/cluster.js';

const env = useCluster('crd');

function network(name: string, spec: Record<string, unknown>): string {
  return stringify({
    apiVersion: 'peernet.io/v1alpha1',
    kind: 'PeerNetwork',
    metadata: { name },
    spec,
  });
}

beforeAll(async () => {
  await applyCrds(env.cluster);
}, 120_000);

describe('invalid PeerNetworks are refused by the API server, naming the field', () => {
  // [case, spec, text the error must contain (the field), a second text it must contain]
  const cases: [string, Record<string, unknown>, string, string][] = [
    ['bad mode', { topology: { mode: 'ring' } }, 'spec.topology.mode', 'Unsupported value'],
    [
      'peersPerPod with spread',
      { topology: { mode: 'spread', peersPerPod: 3 } },
      'spec.topology.peersPerPod',
      'only valid with mode colocated',
    ],
    [
      'peersPerPod with sameNode',
      { topology: { mode: 'sameNode', peersPerPod: 2 } },
      'spec.topology.peersPerPod',
      'only valid with mode colocated',
    ],
    ['negative replicas', { replicas: -1, topology: { mode: 'spread' } }, 'spec.replicas', '0'],
    [
      'replicas over 1000',
      { replicas: 1001, topology: { mode: 'spread' } },
      'spec.replicas',
      '1000',
    ],
    [
      'unknown field',
      { topology: { mode: 'spread' }, replicaz: 3 },
      'spec.replicaz',
      'unknown field',
    ],
    [
      'spreadPolicy without spread',
      { topology: { mode: 'sameNode', spreadPolicy: 'Required' } },
      'spec.topology.spreadPolicy',
      'only valid with mode spread',
    ],
    ['missing mode', { topology: {} }, 'spec.topology.mode', 'Required'],
    [
      'peersPerPod over 16',
      { topology: { mode: 'colocated', peersPerPod: 17 } },
      'spec.topology.peersPerPod',
      '16',
    ],
    [
      'image with a shell command',
      { topology: { mode: 'spread' }, image: 'peernet/peer:0.1.0;reboot' },
      'spec.image',
      'should match',
    ],
    [
      'nodeSelector key that is no label key',
      { topology: { mode: 'spread', nodeSelector: { 'node kind!': 'x' } } },
      'spec.topology.nodeSelector',
      'keys must be label keys',
    ],
    [
      'nodeSelector value that is no label value',
      { topology: { mode: 'spread', nodeSelector: { kind: 'a;b' } } },
      'spec.topology.nodeSelector.kind',
      'should match',
    ],
    [
      'cpu request above its limit',
      { topology: { mode: 'spread' }, resources: { requests: { cpu: '2' }, limits: { cpu: '1' } } },
      'spec.resources.requests.cpu',
      'must not be more than spec.resources.limits.cpu',
    ],
    [
      'memory request above the default limit',
      { topology: { mode: 'spread' }, resources: { requests: { memory: '1Gi' } } },
      'spec.resources.requests.memory',
      'must not be more than spec.resources.limits.memory',
    ],
    [
      'sameNode over one node of pods',
      { replicas: 111, topology: { mode: 'sameNode' } },
      'spec.replicas',
      'at most 110 with mode sameNode',
    ],
    [
      'colocated over 256 peers',
      { replicas: 100, topology: { mode: 'colocated', peersPerPod: 3 } },
      'spec.replicas',
      'at most 256 with mode colocated',
    ],
  ];

  it.each(cases)('%s', async (_case, spec, field, text) => {
    const name = `bad-${_case.replace(/[^a-z0-9]+/g, '-')}`;
    const r = await env.kubectl(['apply', '-f', '-'], { input: network(name, spec) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(field);
    expect(r.stderr).toContain(text);
    // Nothing was created.
    const get = await env.kubectl(['get', 'peernetwork', name, '--ignore-not-found', '-o', 'name']);
    expect(get.stdout.trim()).toBe('');
  });
});

describe('a valid PeerNetwork', () => {
  it('is accepted with defaults filled in by the API server', async () => {
    await env.kubectlOk(['apply', '-f', '-'], {
      input: network('good', { replicas: 2, topology: { mode: 'spread' } }),
    });
    const spec = JSON.parse(
      await env.kubectlOk(['get', 'pn', 'good', '-o', 'jsonpath={.spec}']),
    ) as { replicas: number; imagePullPolicy?: string };
    expect(spec.replicas).toBe(2);
    expect(spec.imagePullPolicy).toBe('IfNotPresent');
  });

  it('refuses a change of an immutable field (mode) and keeps the old value', async () => {
    const r = await env.kubectl(['apply', '-f', '-'], {
      input: network('good', { replicas: 2, topology: { mode: 'colocated' } }),
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('spec.topology.mode');
    expect(r.stderr).toContain('immutable');
    expect(await env.kubectlOk(['get', 'pn', 'good', '-o', 'jsonpath={.spec.topology.mode}'])).toBe(
      'spread',
    );
  });

  it('is scaled through the scale subresource', async () => {
    await env.kubectlOk(['scale', 'peernetwork/good', '--replicas=5']);
    expect(await env.kubectlOk(['get', 'pn', 'good', '-o', 'jsonpath={.spec.replicas}'])).toBe('5');
  });

  it('a colocated network cannot be scaled past one node through the scale subresource', async () => {
    await env.kubectlOk(['apply', '-f', '-'], {
      input: network('colo', { replicas: 2, topology: { mode: 'colocated', peersPerPod: 16 } }),
    });
    await env.kubectlOk(['scale', 'peernetwork/colo', '--replicas=16']);
    const r = await env.kubectl(['scale', 'peernetwork/colo', '--replicas=17']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('spec.replicas');
    expect(r.stderr).toContain('at most 256 with mode colocated');
    expect(await env.kubectlOk(['get', 'pn', 'colo', '-o', 'jsonpath={.spec.replicas}'])).toBe(
      '16',
    );
  });

  it('is listed with the printer columns MODE READY PHASE AGE under the short name pn', async () => {
    const out = await env.kubectlOk(['get', 'pn']);
    const header = out.split('\n')[0] ?? '';
    expect(header.split(/\s+/)).toEqual(
      expect.arrayContaining(['NAME', 'MODE', 'READY', 'PHASE', 'AGE']),
    );
    expect(out).toContain('good');
    expect(out).toContain('spread');
  });

  it('has a status subresource: a spec write does not change status, a status write does not change spec', async () => {
    const patched = await env.kubectlOk([
      'patch',
      'pn',
      'good',
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { phase: 'Pending' }, spec: { replicas: 9 } }),
      '-o',
      'jsonpath={.spec.replicas} {.status.phase}',
    ]);
    expect(patched).toBe('5 Pending');
  });
});

describe('kubectl explain', () => {
  it('describes spec.topology and its fields', async () => {
    const out = await env.kubectlOk(['explain', 'peernetwork.spec.topology']);
    expect(out).toContain('mode');
    expect(out).toContain('peersPerPod');
    expect(out).toContain('spreadPolicy');
    expect(out).toMatch(/DESCRIPTION:\s+\S/);
  });
});
