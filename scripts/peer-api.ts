#!/usr/bin/env node
// Talk to a pod's peer from the host: finds the pod's address in the cluster and runs peerctl
// against it. `npm run -s peer -- [-n NAMESPACE] POD[/CONTAINER] [PEERCTL ARGS...]`, e.g.
// `npm run -s peer -- demo-0 status`, `npm run -s peer -- demo-1/peer-1 get KEY`; without
// peerctl arguments it prints the API URL (for `peerctl --api URL ...` or curl).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { API_BASE_PORT } from '../operator/pods/names.js';

const Env = z.object({ KUBECONFIG: z.string().optional() });
const peerctl = fileURLToPath(new URL('../peer/cli/peerctl.js', import.meta.url));

async function main(): Promise<void> {
  const env = Env.parse(process.env);
  const argv = process.argv.slice(2);
  let namespace = 'default';
  if (argv[0] === '-n' || argv[0] === '--namespace') {
    namespace = argv[1] ?? 'default';
    argv.splice(0, 2);
  }
  const target = argv.shift();
  if (target === undefined) {
    console.error('usage: npm run -s peer -- [-n NAMESPACE] POD[/CONTAINER] [PEERCTL ARGS...]');
    process.exit(2);
  }
  const [podName = '', containerName] = target.split('/');
  const kubeconfig = env.KUBECONFIG ?? '.cluster/kubeconfig';
  if (!existsSync(kubeconfig)) {
    console.error(
      `no kubeconfig at ${kubeconfig}: is the cluster up (npm start)? or set KUBECONFIG`,
    );
    process.exit(1);
  }
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const pod = await kc.makeApiClient(CoreV1Api).readNamespacedPod({ name: podName, namespace });
  const ip = pod.status?.podIP;
  if (ip === undefined) {
    console.error(`pod ${namespace}/${podName} has no IP yet (phase ${pod.status?.phase ?? '?'})`);
    process.exit(1);
  }
  const containers = pod.spec?.containers ?? [];
  const container =
    containerName === undefined ? containers[0] : containers.find((c) => c.name === containerName);
  const port =
    container?.ports?.find((p) => p.name?.startsWith('api') === true)?.containerPort ??
    API_BASE_PORT;
  const url = `http://${ip}:${port}`;
  if (argv.length === 0) {
    console.log(url);
    return;
  }
  const child = spawn(process.execPath, [peerctl, '--api', url, ...argv], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 1));
}

main().catch((err: unknown) => {
  console.error(`peer: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
