// The zod/CRD agreement from the API server's side: the table of specs the unit test runs
// through zod goes through the real API server (server-side dry run, and a real update for the
// immutable fields); each is accepted or refused alike, the refusal naming the field.
import { describe, expect, test, beforeAll } from '@jest/globals';
import { stringify } from 'yaml';
import { SPEC_CASES } from '../../operator/api/cases.js';
import {
  KubeApiError,
  createKubeClient,
  isNamespaceTerminating,
} from '../../operator/kube/client.js';
import { kubeAccessFromClientNode } from '../../operator/kube/config.js';
import { systemClock } from '../../operator/reconcile/clock.js';
import { applyCrds } from '../helpers/cluster-crd.js';
import { useCluster } from '../helpers/cluster.js';

const env = useCluster('op-crd');

beforeAll(async () => {
  await applyCrds(env.cluster);
}, 120_000);

const doc = (name: string, spec: unknown) =>
  stringify({ apiVersion: 'peernet.io/v1alpha1', kind: 'PeerNetwork', metadata: { name }, spec });

describe('the API server agrees with the zod schema', () => {
  test.each(SPEC_CASES.map((c, i) => [c.name, c, i] as const))(
    '%s',
    async (_n, c, i) => {
      const name = `case-${i}`;
      if (c.old !== undefined) {
        await env.kubectlOk(['create', '-f', '-'], { input: doc(name, c.old) });
      }
      const r = await env.kubectl(
        c.old !== undefined
          ? ['replace', '--validate=strict', '-f', '-']
          : ['create', '--dry-run=server', '--validate=strict', '-f', '-'],
        { input: doc(name, c.spec) },
      );
      if (c.refusedAt === undefined) {
        expect([r.code, r.stderr]).toEqual([0, '']);
      } else {
        expect(r.code).not.toBe(0);
        // the API server names list items `field[0]`
        const path = c.refusedAt.replace(/\.(\d+)(?=\.|$)/g, '[$1]');
        const last = path.split('.').pop()!;
        const re = (t: string) => t.replace(/[.[\]]/g, '\\$&');
        expect(r.stderr).toMatch(new RegExp(`${re(path)}|unknown field "${re(path)}"|${re(last)}`));
      }
    },
    60_000,
  );

  test('an invalid name is refused naming metadata.name', async () => {
    const r = await env.kubectl(['create', '--dry-run=server', '-f', '-'], {
      input: doc('9lives', { topology: { mode: 'spread' } }),
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/metadata\.name/);
  });
});

describe("the operator's client against the API server's refusals", () => {
  test('a create in a namespace being deleted is told apart (NamespaceTerminating)', async () => {
    const ns = `${env.namespace}-gone`;
    await env.kubectlOk(['create', 'namespace', ns]);
    // a finalizer holds the namespace in Terminating while the test creates in it
    await env.kubectlOk(['create', '-n', ns, '-f', '-'], {
      input: stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'hold', finalizers: ['test.peernet.io/hold'] },
      }),
    });
    await env.kubectlOk(['delete', 'namespace', ns, '--wait=false']);
    const client = createKubeClient(await kubeAccessFromClientNode(env.kubeConfig), systemClock);
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'late', namespace: ns },
      spec: { containers: [{ name: 'c', image: 'x' }] },
    };
    const refused = await client.create(pod).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isNamespaceTerminating(refused)).toBe(true);
    // an ordinary refusal is not taken for one
    const other = await client
      .create({ ...pod, metadata: { name: 'Bad_Name', namespace: env.namespace } })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(other).toBeInstanceOf(KubeApiError);
    expect(isNamespaceTerminating(other)).toBe(false);
    await env.kubectlOk([
      'patch',
      '-n',
      ns,
      'configmap',
      'hold',
      '--type=merge',
      '-p',
      '{"metadata":{"finalizers":null}}',
    ]);
  }, 60_000);
});
