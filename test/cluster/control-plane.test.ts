// The local control plane itself (cluster/): the versions of the build, kwok's fake nodes and
// pods, the scheduler, garbage collection, and the CLI's up/status/down on a second cluster
// next to the run's (free ports: they coexist).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { isRunning } from '../../cluster/process.js';
import { useCluster, waitUntil } from '../helpers/cluster.js';

const env = useCluster('control-plane');
const cli = fileURLToPath(new URL('../../cluster/cli.js', import.meta.url));

function runCli(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

describe('the build', () => {
  it('kubectl and the API server are both v1.36.3; helm is v3.21.4 and assumes Kubernetes 1.36', async () => {
    const v = JSON.parse(await env.kubectlOk(['version', '-o', 'json'])) as {
      clientVersion: { gitVersion: string };
      serverVersion: { gitVersion: string };
    };
    expect(v.clientVersion.gitVersion).toBe('v1.36.3');
    expect(v.serverVersion.gitVersion).toBe('v1.36.3');
    const helm = await env.cluster.helm(['version', '--short']);
    expect(helm.stdout).toMatch(/^v3\.21\.4/);
    // Offline (`helm template`), helm assumes the Kubernetes version compiled into it.
    const chart = `${env.cluster.dir}/helm/kube-version-chart`;
    mkdirSync(`${chart}/templates`, { recursive: true });
    writeFileSync(`${chart}/Chart.yaml`, 'apiVersion: v2\nname: kv\nversion: 0.1.0\n');
    writeFileSync(`${chart}/templates/kv.yaml`, 'kubeVersion: {{ .Capabilities.KubeVersion }}\n');
    const template = await env.cluster.helm(['template', chart]);
    expect(template.stdout).toContain('kubeVersion: v1.36.0');
  });
});

describe('kwok', () => {
  it('runs at least three fake nodes, Ready, labelled with hostname, zone and node kind', async () => {
    const nodes = JSON.parse(
      await env.kubectlOk(['get', 'nodes', '-l', 'peernet.io/node-kind=kwok', '-o', 'json']),
    ) as {
      items: {
        metadata: {
          name: string;
          labels: Record<string, string>;
          annotations: Record<string, string>;
        };
        status: { conditions: { type: string; status: string }[] };
      }[];
    };
    expect(nodes.items.length).toBeGreaterThanOrEqual(3);
    for (const n of nodes.items) {
      expect(n.metadata.labels['kubernetes.io/hostname']).toBe(n.metadata.name);
      expect(n.metadata.annotations['kwok.x-k8s.io/node']).toBe('fake');
      expect(n.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    }
    const zones = new Set(nodes.items.map((n) => n.metadata.labels['topology.kubernetes.io/zone']));
    expect([...zones].sort()).toEqual(['zone-a', 'zone-b', 'zone-c']);
  });

  it('makes a pod Running and Ready with a loopback IP from 127.200.0.0/16, and finishes its deletion', async () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'fake' },
      spec: {
        nodeSelector: { 'peernet.io/node-kind': 'kwok' },
        containers: [{ name: 'c', image: 'example/none:1' }],
      },
    };
    await env.kubectlOk(['apply', '-f', '-'], { input: stringify(pod) });
    await env.kubectlOk(['wait', '--for=condition=Ready', 'pod/fake', '--timeout=120s']);
    const ip = await env.kubectlOk(['get', 'pod', 'fake', '-o', 'jsonpath={.status.podIP}']);
    expect(ip).toMatch(/^127\.200\.\d+\.\d+$/);
    await env.kubectlOk(['delete', 'pod', 'fake', '--wait=true', '--timeout=120s']);
  });
});

describe('the scheduler and the controller manager', () => {
  it('enforce required anti-affinity: with more replicas than nodes the extra pod stays Pending', async () => {
    const nodes = (
      await env.kubectlOk(['get', 'nodes', '-l', 'peernet.io/node-kind=kwok', '-o', 'name'])
    )
      .trim()
      .split('\n').length;
    const labels = { app: 'spread' };
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'spread' },
      spec: {
        replicas: nodes + 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            nodeSelector: { 'peernet.io/node-kind': 'kwok' },
            affinity: {
              podAntiAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [
                  { labelSelector: { matchLabels: labels }, topologyKey: 'kubernetes.io/hostname' },
                ],
              },
            },
            containers: [{ name: 'c', image: 'example/none:1' }],
          },
        },
      },
    };
    await env.kubectlOk(['apply', '-f', '-'], { input: stringify(deployment) });
    let phases: string[] = [];
    await waitUntil(
      async () => {
        const out = await env.kubectlOk([
          'get',
          'pods',
          '-l',
          'app=spread',
          '-o',
          'jsonpath={.items[*].status.phase}',
        ]);
        phases = out.split(' ').filter(Boolean).sort();
        return (
          phases.filter((p) => p === 'Running').length === nodes && phases.length === nodes + 1
        );
      },
      120_000,
      `${nodes} Running pods and one more`,
    );
    expect(phases.filter((p) => p === 'Pending')).toEqual(['Pending']);
    const nodeNames = (
      await env.kubectlOk([
        'get',
        'pods',
        '-l',
        'app=spread',
        '-o',
        'jsonpath={.items[*].spec.nodeName}',
      ])
    )
      .split(' ')
      .filter(Boolean);
    expect(new Set(nodeNames).size).toBe(nodes);
    const events = await env.kubectlOk([
      'get',
      'events',
      '--field-selector',
      'reason=FailedScheduling',
      '-o',
      'name',
    ]);
    expect(events.trim()).not.toBe('');
  });

  it('collects garbage: deleting an owner deletes what it owns', async () => {
    await env.kubectlOk(['create', 'configmap', 'owner']);
    const uid = await env.kubectlOk([
      'get',
      'configmap',
      'owner',
      '-o',
      'jsonpath={.metadata.uid}',
    ]);
    const child = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'child',
        ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid }],
      },
    };
    await env.kubectlOk(['apply', '-f', '-'], { input: stringify(child) });
    await env.kubectlOk(['delete', 'configmap', 'owner']);
    await waitUntil(
      async () =>
        (await env.kubectl(['get', 'configmap', 'child', '--ignore-not-found', '-o', 'name']))
          .stdout === '',
      120_000,
      'the child ConfigMap to be collected',
    );
  });
});

describe('the CLI', () => {
  it('up starts a second cluster next to this one, status reports it, down stops every server', async () => {
    const dir = `${env.cluster.dir}-cli`;
    const up = await runCli(['--dir', dir, 'up', '--nodes', '1']);
    expect({ code: up.code, tail: up.out.slice(-600) }).toEqual({
      code: 0,
      tail: up.out.slice(-600),
    });
    expect(up.out).toContain('kwok-node-0');
    const state = JSON.parse(readFileSync(`${dir}/state.json`, 'utf8')) as {
      server: string;
      components: Record<string, { pid: number; command: string }>;
    };
    expect(state.server).not.toBe(env.cluster.server);
    const again = await runCli(['--dir', dir, 'up']);
    expect(again.out).toContain('already running');
    const status = await runCli(['--dir', dir, 'status']);
    expect(status.code).toBe(0);
    expect(status.out).not.toContain('STOPPED');

    const down = await runCli(['--dir', dir, 'down']);
    expect(down.code).toBe(0);
    for (const c of Object.values(state.components))
      expect(isRunning(c.pid, c.command)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    // The run's cluster is untouched.
    expect(env.cluster.status().every((c) => c.running)).toBe(true);
  }, 300_000);
});
