import type { V1Node } from '@kubernetes/client-node';
import type { ClusterOptions } from './config.js';

/** Marks a node as kwok's to simulate (`--manage-nodes-with-annotation-selector`). */
export const kwokNodeAnnotation = 'kwok.x-k8s.io/node';
/** ADR 0001: tests pick kwok nodes or local-runtime nodes with this label. */
export const nodeKindLabel = 'peernet.io/node-kind';

export function fakeNodeName(options: Pick<ClusterOptions, 'nodePrefix'>, i: number): string {
  return `${options.nodePrefix}-${i}`;
}

/** The i-th fake node: zones round robin, allocatable as configured; kwok fills the rest of its status. */
export function fakeNode(
  options: Pick<ClusterOptions, 'nodePrefix' | 'zones' | 'nodeCpu' | 'nodeMemory' | 'nodePods'>,
  i: number,
): V1Node {
  const name = fakeNodeName(options, i);
  const zone = options.zones[i % options.zones.length] ?? 'zone-a';
  const resources = { cpu: options.nodeCpu, memory: options.nodeMemory, pods: options.nodePods };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [kwokNodeAnnotation]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'topology.kubernetes.io/zone': zone,
        'topology.kubernetes.io/region': 'local',
        type: 'kwok',
        [nodeKindLabel]: 'kwok',
      },
    },
    spec: {},
    status: { allocatable: resources, capacity: resources },
  };
}
