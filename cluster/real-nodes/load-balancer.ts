// LoadBalancer Services on the real nodes: MetalLB (built from its Go module by build-runtime.sh)
// in layer 2 mode, as on a bare-metal cluster. Its controller runs on the host beside the control
// plane and gives each LoadBalancer Service an address from a pool on the nodes' own link (the
// host bridge's /24, above the node addresses). Its speaker runs as MetalLB deploys it, a
// DaemonSet on the host network of every real node (an image made here from the binary, like the
// pause image): the speaker of a node that runs a pod of the Service answers ARP for its address,
// and kube-proxy forwards what arrives to the pod. So the host, outside the cluster's networks,
// reaches a Service at its external address as a machine on the nodes' LAN would.
import { chmodSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandSpec } from '../process.js';
import type { SlotLayout } from './layout.js';
import { ensureScratchImage } from './scratch-image.js';

export const LB_NAMESPACE = 'metallb-system';
export const LB_POOL = 'peernet-local';
/** The image of the speakers (never pulled: imported into every node). */
export const LB_IMAGE = 'peernet.local/metallb:v0.15.2';

/** The pool of a slot: 10.<200+s>.0.200-249, on the bridge's /24 and clear of the nodes (.10+). */
export function loadBalancerRange(slot: SlotLayout): { first: string; last: string } {
  const prefix = slot.hostIp.split('.').slice(0, 3).join('.');
  return { first: `${prefix}.200`, last: `${prefix}.249` };
}

/**
 * Returns the docker-archive of an image holding the controller and the speaker (static Go
 * binaries, nothing else), built once per pair of binaries.
 */
export function ensureLoadBalancerImage(controller: string, speaker: string): Promise<string> {
  return ensureScratchImage({
    image: LB_IMAGE,
    prefix: 'metallb',
    inputs: [controller, speaker],
    fill: (stage) => {
      for (const [from, to] of [
        [controller, 'controller'],
        [speaker, 'speaker'],
      ] as const) {
        copyFileSync(from, join(stage, to));
        chmodSync(join(stage, to), 0o755);
      }
    },
    config: ['--entrypoint', '["/speaker"]'],
  });
}

/**
 * The namespace, the address pool and its layer 2 announcement, and the speakers: a DaemonSet on
 * the real nodes' host network (the ARP answers go out on the node's link), able to read the
 * cluster (a ServiceAccount bound to cluster-admin: this is the local test cluster).
 */
export function loadBalancerObjects(
  slot: SlotLayout,
  nodeSelector: Record<string, string>,
): string {
  const { first, last } = loadBalancerRange(slot);
  const selector = Object.entries(nodeSelector)
    .map(([k, v]) => `        ${k}: ${JSON.stringify(v)}`)
    .join('\n');
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${LB_NAMESPACE}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: ${LB_POOL}
  namespace: ${LB_NAMESPACE}
spec:
  addresses:
  - ${first}-${last}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata:
  name: ${LB_POOL}
  namespace: ${LB_NAMESPACE}
spec:
  ipAddressPools:
  - ${LB_POOL}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: speaker
  namespace: ${LB_NAMESPACE}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: metallb-speaker
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: ServiceAccount
  name: speaker
  namespace: ${LB_NAMESPACE}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: speaker
  namespace: ${LB_NAMESPACE}
spec:
  selector:
    matchLabels:
      app: metallb
      component: speaker
  template:
    metadata:
      labels:
        app: metallb
        component: speaker
    spec:
      serviceAccountName: speaker
      hostNetwork: true
      nodeSelector:
${selector}
      tolerations:
      - operator: Exists
      terminationGracePeriodSeconds: 2
      containers:
      - name: speaker
        image: ${LB_IMAGE}
        imagePullPolicy: Never
        args:
        - --namespace=${LB_NAMESPACE}
        - --port=7472
        - --log-level=info
        env:
        - name: METALLB_NODE_NAME
          valueFrom:
            fieldRef:
              fieldPath: spec.nodeName
        - name: METALLB_POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: METALLB_HOST
          valueFrom:
            fieldRef:
              fieldPath: status.hostIP
        securityContext:
          capabilities:
            drop: [ALL]
            add: [NET_RAW]
          readOnlyRootFilesystem: true
`;
}

/**
 * MetalLB's controller on the host: no admission webhook (nothing would serve it), metrics on a
 * port of its own.
 */
export function lbControllerCommand(
  bin: string,
  kubeconfig: string,
  metricsPort: number,
  dir: string,
  logPath: string,
): CommandSpec {
  return {
    name: 'metallb-controller',
    command: bin,
    args: [
      `--namespace=${LB_NAMESPACE}`,
      '--webhook-mode=disabled',
      '--disable-cert-rotation',
      `--port=${metricsPort}`,
      // unused without the webhook; under the cluster's folder rather than /tmp
      `--cert-dir=${dir}`,
      '--log-level=info',
    ],
    env: { KUBECONFIG: kubeconfig },
    logPath,
  };
}
