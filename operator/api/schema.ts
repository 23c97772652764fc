// The PeerNetwork resource: one zod schema is the source of truth for the operator's parsing and
// for the CRD's OpenAPI schema (`npm run gen:crd` renders it; see ./crd.ts). The cross-field and
// immutability rules exist twice by necessity: as CEL on the CRD (the API server enforces them)
// and as zod refinements here (the operator and unit tests use them); ./schema.test.ts checks the
// two agree on one table of objects.
// Long: each field's schema, its CEL rule and its zod refinement are kept next to each other.
import { z } from 'zod';
import {
  IMAGE_PATTERN,
  LABEL_KEYS_CEL,
  LABEL_KEY_PATTERN,
  LABEL_VALUE_PATTERN,
  MAX_LABEL_KEY,
  MAX_LABEL_PREFIX,
  isLabelKey,
} from './labels.js';

export const GROUP = 'peernet.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'PeerNetwork';
export const PLURAL = 'peernetworks';
export const SINGULAR = 'peernetwork';
export const SHORT_NAME = 'pn';

export const TOPOLOGY_MODES = ['colocated', 'sameNode', 'spread'] as const;
export type TopologyMode = (typeof TOPOLOGY_MODES)[number];
export const SPREAD_POLICIES = ['Required', 'Preferred'] as const;
export type SpreadPolicy = (typeof SPREAD_POLICIES)[number];
export const PHASES = ['Pending', 'Progressing', 'Ready', 'Degraded', 'Failed'] as const;
export type Phase = (typeof PHASES)[number];

export const DEFAULT_PEERS_PER_POD_COLOCATED = 2;
export const DEFAULT_TOPOLOGY_KEY = 'kubernetes.io/hostname';
export const MAX_REPLICAS = 1000;
export const MAX_PEERS_PER_POD = 16;
/**
 * Networks that live on one node (sameNode, colocated) are capped to what one node can run: the
 * kubelet's default maxPods is 110, and a peer needs ~44-47 MiB of memory of its own (PSS at
 * 100 peers; ADR 0003), so 256 peers already ask ~11-12 GiB of one node (16 GiB at the default
 * request of 64Mi).
 * The caps also keep the bootstrap ConfigMap and the status well under their size limits (see
 * ../pods/size.test.ts).
 */
export const MAX_ONE_NODE_PODS = 110;
export const MAX_COLOCATED_PEERS = 256;
/** Pod names are `<network>-<ordinal>` (ordinal up to 4 digits) and the Service `<network>-peers`. */
export const MAX_NAME_LENGTH = 57;
export const NAME_PATTERN = '^[a-z]([-a-z0-9]*[a-z0-9])?$';

/** An x-kubernetes-validations entry (CEL), rendered into the CRD as is. */
export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?:
    'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

const QUANTITY =
  /^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei|[eE][+-]?[0-9]+)?$/;
const quantity = (what: string, def: string) =>
  z
    .string()
    .max(64)
    .regex(QUANTITY)
    .default(def)
    .meta({
      description: `${what} as a Kubernetes quantity string (quote it in YAML, e.g. "${def}").`,
    });

const NODE_SELECTOR_KEYS_MESSAGE = `spec.topology.nodeSelector keys must be label keys: an optional DNS subdomain prefix of at most ${MAX_LABEL_PREFIX} characters and '/', then a name of at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
export const NODE_SELECTOR_RULES: CelRule[] = [
  { rule: LABEL_KEYS_CEL, message: NODE_SELECTOR_KEYS_MESSAGE },
];
/** A label key (`[prefix/]name`), as topologyKey and loadBalancerClass are. */
const labelKeyString = () =>
  z.string().min(1).max(MAX_LABEL_KEY).regex(new RegExp(LABEL_KEY_PATTERN));
const labelMap = z
  .record(z.string(), z.string().max(63).regex(new RegExp(LABEL_VALUE_PATTERN)))
  .superRefine((m, ctx) => {
    if (!Object.keys(m).every(isLabelKey))
      ctx.addIssue({ code: 'custom', message: NODE_SELECTOR_KEYS_MESSAGE });
  });

/** CEL on spec.topology: the cross-field rules and the immutable fields. */
export const TOPOLOGY_RULES: CelRule[] = [
  {
    rule: "!has(self.peersPerPod) || self.peersPerPod == 1 || self.mode == 'colocated'",
    message: 'spec.topology.peersPerPod other than 1 is only valid with mode colocated',
    fieldPath: '.peersPerPod',
    reason: 'FieldValueForbidden',
  },
  {
    rule: "!has(self.spreadPolicy) || self.mode == 'spread'",
    message: 'spec.topology.spreadPolicy is only valid with mode spread',
    fieldPath: '.spreadPolicy',
    reason: 'FieldValueForbidden',
  },
  {
    rule: "!has(self.topologyKey) || self.mode == 'spread'",
    message: 'spec.topology.topologyKey is only valid with mode spread',
    fieldPath: '.topologyKey',
    reason: 'FieldValueForbidden',
  },
  {
    rule: 'self.mode == oldSelf.mode',
    message: 'spec.topology.mode is immutable',
    fieldPath: '.mode',
  },
  {
    // peersPerPod is optional with a mode-dependent default, so compare the effective values.
    rule:
      "(has(self.peersPerPod) ? self.peersPerPod : (self.mode == 'colocated' ? 2 : 1)) == " +
      "(has(oldSelf.peersPerPod) ? oldSelf.peersPerPod : (oldSelf.mode == 'colocated' ? 2 : 1))",
    message: 'spec.topology.peersPerPod is immutable',
    fieldPath: '.peersPerPod',
  },
];

const REPLICAS_CEL = '(has(self.replicas) ? self.replicas : 1)';
const PEERS_PER_POD_CEL = `(has(self.topology.peersPerPod) ? self.topology.peersPerPod : ${DEFAULT_PEERS_PER_POD_COLOCATED})`;

/** CEL on spec: cross-field rules, and the size caps of networks that live on one node. */
/** spec.expose: how peers are reached from outside the cluster. */
export const EXPOSE_TYPES = [
  'none',
  'hostNetwork',
  'hostPort',
  'nodePort',
  'loadBalancer',
] as const;
/** The types whose peers get a port of their node (basePort + ordinal x peersPerPod + i). */
export const DEFAULT_BASE_PORT = { hostNetwork: 40000, hostPort: 40000, nodePort: 30000 } as const;
type NodePortExposeType = keyof typeof DEFAULT_BASE_PORT;
export const NODE_PORT_RANGE = [30000, 32767] as const;
const EXPOSE_PEERS_CEL = `${REPLICAS_CEL} * (self.topology.mode == 'colocated' ? ${PEERS_PER_POD_CEL} : 1)`;
const basePortCel = (type: NodePortExposeType) =>
  `(has(self.expose.basePort) ? self.expose.basePort : ${DEFAULT_BASE_PORT[type]})`;

export const SPEC_RULES: CelRule[] = [
  {
    rule: '!has(self.swarmKeySecret) || (has(self.privateNetwork) && self.privateNetwork)',
    message: 'spec.swarmKeySecret is only valid with privateNetwork: true',
    fieldPath: '.swarmKeySecret',
    reason: 'FieldValueForbidden',
  },
  {
    rule: `self.topology.mode != 'sameNode' || ${REPLICAS_CEL} <= ${MAX_ONE_NODE_PODS}`,
    message: `spec.replicas must be at most ${MAX_ONE_NODE_PODS} with mode sameNode (every pod runs on one node)`,
    fieldPath: '.replicas',
  },
  {
    rule: `self.topology.mode != 'colocated' || ${REPLICAS_CEL} <= ${MAX_ONE_NODE_PODS}`,
    message: `spec.replicas must be at most ${MAX_ONE_NODE_PODS} with mode colocated (every pod runs on one node)`,
    fieldPath: '.replicas',
  },
  {
    rule: `self.topology.mode != 'colocated' || ${REPLICAS_CEL} * ${PEERS_PER_POD_CEL} <= ${MAX_COLOCATED_PEERS}`,
    message: `spec.replicas x spec.topology.peersPerPod must be at most ${MAX_COLOCATED_PEERS} with mode colocated (every peer runs on one node)`,
    fieldPath: '.replicas',
  },
  {
    rule:
      `!has(self.expose) || self.expose.type != 'nodePort' || ` +
      `(${basePortCel('nodePort')} >= ${NODE_PORT_RANGE[0]} && ${basePortCel('nodePort')} + ${EXPOSE_PEERS_CEL} - 1 <= ${NODE_PORT_RANGE[1]})`,
    message: `spec.expose.basePort: with type nodePort every peer's port (basePort + ordinal x peersPerPod + i) must be in the NodePort range ${NODE_PORT_RANGE[0]}-${NODE_PORT_RANGE[1]}`,
    fieldPath: '.expose.basePort',
  },
  {
    // hostNetwork shares the default base and, being spread only, has one peer a pod
    rule:
      `!has(self.expose) || (self.expose.type != 'hostPort' && self.expose.type != 'hostNetwork') || ` +
      `${basePortCel('hostPort')} + ${EXPOSE_PEERS_CEL} - 1 <= 65535`,
    message:
      "spec.expose.basePort: with type hostPort or hostNetwork every peer's port (basePort + ordinal x peersPerPod + i) must be at most 65535",
    fieldPath: '.expose.basePort',
  },
  {
    rule: 'has(self.storage) == has(oldSelf.storage)',
    message:
      'spec.storage cannot be added or removed once the network exists (create a new network to change it)',
    fieldPath: '.storage',
  },
  {
    rule:
      `!has(self.expose) || self.expose.type != 'hostNetwork' || (self.topology.mode == 'spread' && ` +
      `(!has(self.topology.spreadPolicy) || self.topology.spreadPolicy == 'Required'))`,
    message:
      "spec.expose.type hostNetwork needs topology mode spread with spreadPolicy Required: two pods of the network on one node would share the node's ports",
    fieldPath: '.expose.type',
  },
];

/** CEL on spec.expose: the fields that belong to one type. */
const ANNOTATION_KEYS_MESSAGE = `spec.expose.annotations keys must be annotation keys: an optional DNS subdomain prefix of at most ${MAX_LABEL_PREFIX} characters and '/', then a name of at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
export const MAX_EXPOSE_ANNOTATIONS = 16;
export const EXPOSE_RULES: CelRule[] = [
  {
    rule: "self.type != 'loadBalancer' || !has(self.basePort)",
    message:
      'spec.expose.basePort does not apply to type loadBalancer: each pod gets an address of its own, and peer i of a pod is reached on port 4001 + i',
    fieldPath: '.basePort',
    reason: 'FieldValueForbidden',
  },
  {
    rule: "self.type == 'loadBalancer' || !has(self.loadBalancerClass)",
    message: 'spec.expose.loadBalancerClass is only valid with type loadBalancer',
    fieldPath: '.loadBalancerClass',
    reason: 'FieldValueForbidden',
  },
  {
    rule: "self.type == 'loadBalancer' || !has(self.annotations)",
    message: 'spec.expose.annotations is only valid with type loadBalancer',
    fieldPath: '.annotations',
    reason: 'FieldValueForbidden',
  },
];
export const EXPOSE_ANNOTATION_RULES: CelRule[] = [
  { rule: LABEL_KEYS_CEL, message: ANNOTATION_KEYS_MESSAGE },
];

/** spec.storage: a PersistentVolumeClaim per pod at the peers' data directory. */
export const RETENTION_POLICIES = ['Retain', 'Delete'] as const;
export const STORAGE_SIZE_RANGE = ['16Mi', '16Ti'] as const;
export const STORAGE_RULES: CelRule[] = [
  {
    rule:
      `!isQuantity(self.size) || (quantity(self.size).compareTo(quantity('${STORAGE_SIZE_RANGE[0]}')) >= 0 && ` +
      `quantity(self.size).compareTo(quantity('${STORAGE_SIZE_RANGE[1]}')) <= 0)`,
    message: `spec.storage.size must be between ${STORAGE_SIZE_RANGE[0]} and ${STORAGE_SIZE_RANGE[1]}`,
    fieldPath: '.size',
  },
  {
    rule: 'self.size == oldSelf.size',
    message: 'spec.storage.size is immutable (the claims are not resized)',
    fieldPath: '.size',
  },
  {
    rule:
      "(has(self.storageClassName) ? self.storageClassName : '') == " +
      "(has(oldSelf.storageClassName) ? oldSelf.storageClassName : '')",
    message: 'spec.storage.storageClassName is immutable',
    fieldPath: '.storageClassName',
  },
];

/** CEL on spec.resources: a request above its limit is refused (as the API server refuses the pod). */
export const RESOURCES_RULES: CelRule[] = (['cpu', 'memory'] as const).map((r) => ({
  rule:
    `!has(self.requests) || !has(self.limits) || !has(self.requests.${r}) || !has(self.limits.${r}) || ` +
    `!isQuantity(self.requests.${r}) || !isQuantity(self.limits.${r}) || ` +
    `quantity(self.requests.${r}).compareTo(quantity(self.limits.${r})) <= 0`,
  message: `spec.resources.requests.${r} must not be more than spec.resources.limits.${r}`,
  fieldPath: `.requests.${r}`,
}));

/** spec.networkId: the peer's --network (lower case, digits, . _ / -). */
export const NETWORK_ID_PATTERN = '^[a-z0-9]([a-z0-9._/-]{0,126}[a-z0-9])?$';
/** spec.bootstrap.external: a TCP multiaddr of an IP or DNS name, with /p2p/<peerId>. */
export const EXTERNAL_ADDR_PATTERN =
  '^/(ip4|ip6|dns|dns4|dns6)/[^/\\s]+/tcp/[0-9]{1,5}/p2p/[1-9A-HJ-NP-Za-km-z]{40,80}$';
export const MAX_EXTERNAL_PEERS = 64;

/** The default data key of a user's swarm key Secret (kubo's file name). */
export const DEFAULT_SWARM_KEY_SECRET_KEY = 'swarm.key';
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const SECRET_DATA_KEY = '^[-._a-zA-Z0-9]+$';

/** CEL on the root object (metadata.name becomes part of pod, Service and DNS names). */
export const ROOT_RULES: CelRule[] = [
  {
    rule: `self.metadata.name.size() <= ${MAX_NAME_LENGTH} && self.metadata.name.matches('${NAME_PATTERN}')`,
    message: `metadata.name must be a DNS-1035 label of at most ${MAX_NAME_LENGTH} characters (lower case letters, digits and '-', starting with a letter)`,
  },
];

export const topologySchema = z
  .object({
    mode: z.enum(TOPOLOGY_MODES).meta({
      description:
        'How peers are placed. colocated: each pod runs peersPerPod peer containers that find each other with mDNS, and the pods share one node. ' +
        'sameNode: every pod of the network runs on one node (required pod affinity on kubernetes.io/hostname). ' +
        'spread: no two pods of the network share a topology domain (pod anti-affinity on topologyKey). Immutable.',
    }),
    peersPerPod: z
      .number()
      .int()
      .min(1)
      .max(MAX_PEERS_PER_POD)
      .optional()
      .meta({
        description: `Peer containers per pod (1..${MAX_PEERS_PER_POD}). Defaults to ${DEFAULT_PEERS_PER_POD_COLOCATED} with mode colocated and 1 otherwise; values other than 1 are only valid with colocated. Immutable.`,
      }),
    spreadPolicy: z
      .enum(SPREAD_POLICIES)
      .optional()
      .meta({
        description:
          'Only with mode spread. Required (the default): pods that cannot get a topology domain of their own stay Pending. ' +
          'Preferred: the scheduler spreads pods as far as it can but may put two on one domain.',
      }),
    topologyKey: labelKeyString()
      .optional()
      .meta({
        description: `Only with mode spread: the node label (a label key) whose values are the domains pods are spread over. Default ${DEFAULT_TOPOLOGY_KEY}.`,
      }),
    nodeSelector: labelMap.optional().meta({
      description:
        'Node labels a node must have to run this network pods (every mode; at most 32 labels, keys and values as in any label). With sameNode it picks the node the network lands on.',
      maxProperties: 32,
      'x-kubernetes-validations': NODE_SELECTOR_RULES,
    }),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.peersPerPod !== undefined && t.peersPerPod !== 1 && t.mode !== 'colocated') {
      ctx.addIssue({ code: 'custom', path: ['peersPerPod'], message: TOPOLOGY_RULES[0]!.message });
    }
    if (t.spreadPolicy !== undefined && t.mode !== 'spread') {
      ctx.addIssue({ code: 'custom', path: ['spreadPolicy'], message: TOPOLOGY_RULES[1]!.message });
    }
    if (t.topologyKey !== undefined && t.mode !== 'spread') {
      ctx.addIssue({ code: 'custom', path: ['topologyKey'], message: TOPOLOGY_RULES[2]!.message });
    }
  })
  .meta({
    description: 'Where and how the peers run.',
    'x-kubernetes-validations': TOPOLOGY_RULES,
  });

const resourceList = (what: string, cpu: string, memory: string) =>
  z
    .object({
      cpu: quantity(`${what} CPU per peer container`, cpu),
      memory: quantity(`${what} memory per peer container`, memory),
    })
    .strict()
    .prefault({})
    .meta({ description: `${what} for each peer container.` });

export const resourcesSchema = z
  .object({
    requests: resourceList('Requests', '50m', '64Mi'),
    limits: resourceList('Limits', '500m', '256Mi'),
  })
  .strict()
  .superRefine((r, ctx) => {
    RESOURCES_RULES.forEach((rule, i) => {
      const kind = i === 0 ? 'cpu' : 'memory';
      const [req, lim] = [r.requests[kind], r.limits[kind]];
      if (QUANTITY.test(req) && QUANTITY.test(lim) && compareQuantities(req, lim) > 0)
        ctx.addIssue({ code: 'custom', path: ['requests', kind], message: rule.message });
    });
  })
  .prefault({})
  .meta({
    description: 'Compute resources of each peer container; each request at most its limit.',
    'x-kubernetes-validations': RESOURCES_RULES,
  });

export const tolerationSchema = z
  .object({
    key: z
      .string()
      .max(316)
      .optional()
      .meta({ description: 'Taint key the toleration applies to.' }),
    operator: z
      .enum(['Exists', 'Equal'])
      .optional()
      .meta({ description: 'Exists or Equal (default Equal).' }),
    value: z.string().max(63).optional().meta({ description: 'Taint value to match with Equal.' }),
    effect: z
      .enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'])
      .optional()
      .meta({ description: 'Taint effect to match; all effects when empty.' }),
    tolerationSeconds: z
      .number()
      .int()
      .optional()
      .meta({ description: 'How long a NoExecute taint is tolerated.' }),
  })
  .strict()
  .meta({ description: 'A pod toleration, as in a Pod spec.' });

export const specSchema = z
  .object({
    replicas: z
      .number()
      .int()
      .min(0)
      .max(MAX_REPLICAS)
      .default(1)
      .meta({
        description: `Number of pods (0..${MAX_REPLICAS}). Total peers = replicas x peersPerPod. The scale subresource points here.`,
      }),
    topology: topologySchema,
    image: z.string().min(1).max(512).regex(new RegExp(IMAGE_PATTERN)).optional().meta({
      description:
        'Peer container image reference ([registry[:port]/]path[:tag][@digest]); defaults to the operator setting peerImage. The image entrypoint must be peernet-peer.',
    }),
    imagePullPolicy: z
      .enum(['Always', 'IfNotPresent', 'Never'])
      .default('IfNotPresent')
      .meta({ description: 'Pull policy of the peer containers.' }),
    resources: resourcesSchema,
    privateNetwork: z
      .boolean()
      .default(false)
      .meta({
        description:
          'When true every peer joins with a pre-shared swarm key (a kubo/go-libp2p swarm.key, /key/swarm/psk/1.0.0/), and peers without the key cannot connect. ' +
          'The key is the one in swarmKeySecret when set, else one the operator makes once in a Secret <name>-swarm. ' +
          'When false the network is open to any libp2p client that speaks its protocols.',
      }),
    swarmKeySecret: z
      .object({
        name: z
          .string()
          .min(1)
          .max(253)
          .regex(new RegExp(DNS_SUBDOMAIN))
          .meta({ description: 'Name of a Secret in the network namespace.' }),
        key: z
          .string()
          .min(1)
          .max(253)
          .regex(new RegExp(SECRET_DATA_KEY))
          .default(DEFAULT_SWARM_KEY_SECRET_KEY)
          .meta({
            description: `The Secret's data key that holds the swarm key file (default ${DEFAULT_SWARM_KEY_SECRET_KEY}).`,
          }),
      })
      .strict()
      .optional()
      .meta({
        description:
          'Only with privateNetwork: true. An existing Secret holding your own swarm key file (/key/swarm/psk/1.0.0/, /base16/, 64 hex digits), mounted into every peer instead of a key the operator makes; ' +
          'kubo or go-libp2p nodes given the same file can connect. The operator does not own, change or delete it.',
      }),
    podDisruptionBudget: z
      .object({
        enabled: z.boolean().default(true).meta({
          description: 'Make the PodDisruptionBudget (default true when the object is set).',
        }),
        maxUnavailable: z.number().int().min(0).max(MAX_REPLICAS).default(1).meta({
          description: 'Pods a voluntary disruption (drain, eviction) may take down at once.',
        }),
      })
      .strict()
      .optional()
      .meta({
        description: 'When set, the operator keeps a PodDisruptionBudget <name> over the pods.',
      }),
    networkPolicy: z
      .object({
        enabled: z.boolean().default(true).meta({
          description:
            'Make the NetworkPolicy (default true when the object is set). false: no NetworkPolicy for this network, whatever the operator default.',
        }),
      })
      .strict()
      .optional()
      .meta({
        description:
          'The NetworkPolicy <name> the operator keeps: libp2p ports (and mDNS with colocated) only from pods of this network; the peer HTTP API ports (status, drain, records, /metrics) only from the operator pods and the sources its settings name. ' +
          'When unset, the operator setting --network-policy decides (default on).',
      }),
    networkId: z
      .string()
      .min(1)
      .max(128)
      .regex(new RegExp(NETWORK_ID_PATTERN))
      .optional()
      .meta({
        description:
          'The id in the network protocol ids and mDNS tags (/peernet/<networkId>/kad/1.0.0); default <namespace>/<name>. ' +
          'Networks with the same id (in other namespaces or clusters) form one DHT once their peers meet (bootstrap.external). ' +
          'Lower-case letters, digits and . _ / - (1-128 characters, starting and ending alphanumeric). Changing it restarts every peer.',
      }),
    bootstrap: z
      .object({
        external: z
          .array(z.string().max(256).regex(new RegExp(EXTERNAL_ADDR_PATTERN)))
          .max(MAX_EXTERNAL_PEERS)
          .default([])
          .meta({
            description:
              `Peers outside this network (another PeerNetwork with the same networkId, in this cluster or another) that every peer dials and keeps connected: ` +
              `multiaddrs with /p2p/<peerId>, e.g. /dns4/fed-0.fed-peers.other.svc.cluster.local/tcp/4001/p2p/12D3KooW... (at most ${MAX_EXTERNAL_PEERS}). ` +
              'Edits reach running peers without a restart (the bootstrap ConfigMap).',
          }),
      })
      .strict()
      .optional()
      .meta({ description: 'Where the peers find peers beyond their own network.' }),
    expose: z
      .object({
        type: z
          .enum(EXPOSE_TYPES)
          .default('none')
          .meta({
            description:
              'none: peers are reached at their pod IPs only. hostPort: each peer container maps a port of its node (basePort + ordinal x peersPerPod + i, default base 40000). ' +
              "hostNetwork: the pods run in their node's network namespace and each peer listens on basePort + ordinal (default 40000); only with mode spread and spreadPolicy Required, one pod a node. " +
              'nodePort: a NodePort Service per pod with those node ports (default base 30000, within 30000-32767). ' +
              'With these three each peer announces /ip4/<its node IP>/tcp/<port>. ' +
              'loadBalancer: a LoadBalancer Service per pod (<pod>-p2p); a pod is created once its Service has an address, and its peer i announces /ip4/<that address>/tcp/<4001 + i> (or /ip6/, or /dns/ for a hostname). ' +
              'Either way a peer announces that one address and no other, and status.peers[].externalAddrs lists it.',
          }),
        basePort: z.number().int().min(1024).max(65535).optional().meta({
          description:
            'Not with loadBalancer. The first peer port; peer i of pod n gets basePort + n x peersPerPod + i, the same across restarts. Another network using the same ports on a node keeps the pod Pending (hostPort) or is refused (nodePort).',
        }),
        loadBalancerClass: labelKeyString().optional().meta({
          description:
            "Only with loadBalancer: the Services' spec.loadBalancerClass (which load balancer implementation serves them); unset: the cluster's default.",
        }),
        annotations: z
          .record(z.string(), z.string().max(1024))
          .superRefine((m, ctx) => {
            if (!Object.keys(m).every(isLabelKey))
              ctx.addIssue({ code: 'custom', message: ANNOTATION_KEYS_MESSAGE });
            if (Object.keys(m).length > MAX_EXPOSE_ANNOTATIONS)
              ctx.addIssue({
                code: 'custom',
                message: `spec.expose.annotations: at most ${MAX_EXPOSE_ANNOTATIONS}`,
              });
          })
          .optional()
          .meta({
            description: `Only with loadBalancer: annotations of the Services, which cloud load balancers read (e.g. service.beta.kubernetes.io/aws-load-balancer-type: nlb); at most ${MAX_EXPOSE_ANNOTATIONS}, values up to 1024 characters.`,
            maxProperties: MAX_EXPOSE_ANNOTATIONS,
            'x-kubernetes-validations': EXPOSE_ANNOTATION_RULES,
          }),
      })
      .strict()
      .superRefine((x, ctx) => {
        if (x.type === 'loadBalancer' && x.basePort !== undefined)
          ctx.addIssue({ code: 'custom', path: ['basePort'], message: EXPOSE_RULES[0]!.message });
        if (x.type !== 'loadBalancer' && x.loadBalancerClass !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['loadBalancerClass'],
            message: EXPOSE_RULES[1]!.message,
          });
        if (x.type !== 'loadBalancer' && x.annotations !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['annotations'],
            message: EXPOSE_RULES[2]!.message,
          });
      })
      .optional()
      .meta({
        description: 'How peers are reached from outside the cluster.',
        'x-kubernetes-validations': EXPOSE_RULES,
      }),
    storage: z
      .object({
        size: quantity("The size of each pod's volume", '1Gi').meta({
          description: `The size of each pod's volume (a quantity, ${STORAGE_SIZE_RANGE[0]} to ${STORAGE_SIZE_RANGE[1]}, default "1Gi"). Immutable.`,
        }),
        storageClassName: z
          .string()
          .min(1)
          .max(253)
          .regex(new RegExp(DNS_SUBDOMAIN))
          .optional()
          .meta({
            description: "The claims' StorageClass; unset: the cluster's default class. Immutable.",
          }),
        retention: z
          .object({
            whenDeleted: z.enum(RETENTION_POLICIES).default('Retain').meta({
              description:
                'Retain (default): the claims outlive the PeerNetwork, and a network created again with the same name finds its records. Delete: they are deleted with it.',
            }),
            whenScaled: z.enum(RETENTION_POLICIES).default('Retain').meta({
              description:
                'Retain (default): the claim of a pod scaled away is kept, and the pod finds its records when scaled back. Delete: it is deleted once the pod is gone.',
            }),
          })
          .strict()
          .prefault({})
          .meta({
            description:
              "What happens to the claims when the network is deleted or scaled down (like a StatefulSet's persistentVolumeClaimRetentionPolicy).",
          }),
      })
      .strict()
      .superRefine((st, ctx) => {
        if (
          QUANTITY.test(st.size) &&
          (compareQuantities(st.size, STORAGE_SIZE_RANGE[0]) < 0 ||
            compareQuantities(st.size, STORAGE_SIZE_RANGE[1]) > 0)
        )
          ctx.addIssue({ code: 'custom', path: ['size'], message: STORAGE_RULES[0]!.message });
      })
      .optional()
      .meta({
        description:
          "A PersistentVolumeClaim <pod>-data per pod, mounted at the peers' data directory (--data-dir /var/lib/peernet/peer-<i>): records survive restarts, a scale to 0 and back, and deleting every pod. " +
          'Cannot be added or removed once the network exists.',
        'x-kubernetes-validations': STORAGE_RULES,
      }),
    tolerations: z
      .array(tolerationSchema)
      .max(32)
      .optional()
      .meta({ description: 'Tolerations added to every peer pod.' }),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.swarmKeySecret !== undefined && !s.privateNetwork) {
      ctx.addIssue({ code: 'custom', path: ['swarmKeySecret'], message: SPEC_RULES[0]!.message });
    }
    const { mode } = s.topology;
    const onePod = (rule: CelRule) =>
      ctx.addIssue({ code: 'custom', path: ['replicas'], message: rule.message });
    if (mode === 'sameNode' && s.replicas > MAX_ONE_NODE_PODS) onePod(SPEC_RULES[1]!);
    if (mode === 'colocated') {
      if (s.replicas > MAX_ONE_NODE_PODS) onePod(SPEC_RULES[2]!);
      const perPod = s.topology.peersPerPod ?? DEFAULT_PEERS_PER_POD_COLOCATED;
      if (s.replicas * perPod > MAX_COLOCATED_PEERS) onePod(SPEC_RULES[3]!);
    }
    const exposed = s.expose?.type;
    if (exposed !== undefined && exposed !== 'none' && exposed !== 'loadBalancer') {
      const base = s.expose?.basePort ?? DEFAULT_BASE_PORT[exposed];
      const last = base + s.replicas * resolveTopology(s.topology).peersPerPod - 1;
      const fits =
        exposed === 'nodePort'
          ? base >= NODE_PORT_RANGE[0] && last <= NODE_PORT_RANGE[1]
          : last <= 65535;
      const rule = exposed === 'nodePort' ? 4 : 5;
      if (!fits)
        ctx.addIssue({
          code: 'custom',
          path: ['expose', 'basePort'],
          message: SPEC_RULES[rule]!.message,
        });
    }
    if (
      exposed === 'hostNetwork' &&
      (mode !== 'spread' || (s.topology.spreadPolicy ?? 'Required') !== 'Required')
    )
      ctx.addIssue({ code: 'custom', path: ['expose', 'type'], message: SPEC_RULES[7]!.message });
  })
  .meta({
    description: 'The desired peer network.',
    'x-kubernetes-validations': SPEC_RULES,
  });

const conditionSchema = z
  .object({
    type: z.string().meta({ description: 'Ready, Progressing or Degraded.' }),
    status: z.enum(['True', 'False', 'Unknown']).meta({ description: 'True, False or Unknown.' }),
    observedGeneration: z
      .number()
      .int()
      .optional()
      .meta({ description: 'The metadata.generation this condition was computed for.' }),
    lastTransitionTime: z
      .string()
      .meta({ description: 'When the status last changed (RFC 3339).' }),
    reason: z.string().meta({ description: 'CamelCase reason for the status.' }),
    message: z.string().meta({ description: 'Human-readable detail.' }),
  })
  .meta({ description: 'A standard Kubernetes condition.' });
export type Condition = z.infer<typeof conditionSchema>;

const peerStatusSchema = z
  .object({
    name: z
      .string()
      .meta({ description: 'Peer name: <pod>, or <pod>-<i> with several peers per pod.' }),
    pod: z.string().meta({ description: 'Pod the peer runs in.' }),
    container: z.string().meta({ description: 'Container the peer runs in (peer-<i>).' }),
    peerId: z.string().meta({ description: 'libp2p peer ID; stable for the life of the network.' }),
    node: z
      .string()
      .meta({ description: 'Node the pod is scheduled on; empty while unscheduled.' }),
    ip: z.string().optional().meta({ description: 'Pod IP, once assigned.' }),
    ready: z.boolean().meta({ description: 'The peer container is ready.' }),
    routingTable: z
      .number()
      .int()
      .optional()
      .meta({ description: 'DHT routing table size, when the peer API answered.' }),
    connections: z
      .number()
      .int()
      .optional()
      .meta({ description: 'Open libp2p connections, when the peer API answered.' }),
    externalAddrs: z.array(z.string()).optional().meta({
      description:
        'With spec.expose: the address clients outside the cluster dial (/ip4/<node IP>/tcp/<port>/p2p/<peerId>), once the pod is scheduled.',
    }),
    draining: z.boolean().optional().meta({
      description:
        'True when the peer said it was drained (POST /v1/drain): it takes no writes and is not ready. The operator recreates its pod unless the pod is being removed.',
    }),
  })
  .meta({ description: 'One peer of the network.' });
export type PeerStatus = z.infer<typeof peerStatusSchema>;

export const statusSchema = z
  .object({
    phase: z.enum(PHASES).optional().meta({
      description: 'Pending, Progressing, Ready, Degraded or Failed.',
    }),
    observedGeneration: z
      .number()
      .int()
      .optional()
      .meta({ description: 'The metadata.generation the operator last reconciled.' }),
    replicas: z
      .number()
      .int()
      .optional()
      .meta({ description: 'Pods that exist (scale subresource).' }),
    selector: z
      .string()
      .optional()
      .meta({ description: 'Label selector of the pods (scale subresource).' }),
    desiredPeers: z.number().int().optional().meta({ description: 'replicas x peersPerPod.' }),
    readyPeers: z
      .number()
      .int()
      .optional()
      .meta({ description: 'Peers whose container is ready.' }),
    readyText: z
      .string()
      .optional()
      .meta({ description: 'readyPeers/desiredPeers, shown in the READY column.' }),
    peers: z
      .array(peerStatusSchema)
      .optional()
      .meta({ description: 'One entry per desired peer.' }),
    bootstrap: z
      .array(z.string())
      .optional()
      .meta({ description: 'The bootstrap multiaddrs handed to the peers.' }),
    externalPeers: z.number().int().optional().meta({
      description:
        'Peers outside this network (see spec.bootstrap.external and spec.networkId) connected to its peers, as the peers last said.',
    }),
    unansweredPeers: z.array(z.string()).optional().meta({
      description:
        'Ready peers that did not answer GET /v1/status within its timeout or the reconcile deadline, in the last reconcile (at most 100 names).',
    }),
    conditions: z
      .array(conditionSchema)
      .optional()
      .meta({
        description: 'Ready, Progressing and Degraded.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
  })
  .meta({ description: 'What the operator observed.' });

export type PeerNetworkSpecInput = z.input<typeof specSchema>;
export type PeerNetworkSpec = z.output<typeof specSchema>;
export type PeerNetworkStatus = z.output<typeof statusSchema>;

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  generation?: number;
  resourceVersion?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A PeerNetwork as read from the API server (spec not yet parsed). */
export interface PeerNetworkObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: PeerNetworkStatus;
}

/** A PeerNetwork whose spec passed the schema, with its defaults applied. */
export interface PeerNetwork {
  metadata: ObjectMeta;
  spec: PeerNetworkSpec;
  status?: PeerNetworkStatus;
}

/** The topology with every default resolved. */
export interface ResolvedTopology {
  mode: TopologyMode;
  peersPerPod: number;
  spreadPolicy: SpreadPolicy;
  topologyKey: string;
  nodeSelector: Record<string, string>;
}

export function resolveTopology(t: PeerNetworkSpec['topology']): ResolvedTopology {
  return {
    mode: t.mode,
    peersPerPod: t.peersPerPod ?? (t.mode === 'colocated' ? DEFAULT_PEERS_PER_POD_COLOCATED : 1),
    spreadPolicy: t.spreadPolicy ?? 'Required',
    topologyKey: t.topologyKey ?? DEFAULT_TOPOLOGY_KEY,
    nodeSelector: t.nodeSelector ?? {},
  };
}

/**
 * A Kubernetes quantity as an exact fraction [numerator, denominator], for comparisons
 * (CEL's quantity() on the API server's side). The string must match QUANTITY.
 */
export function quantityValue(q: string): [bigint, bigint] {
  const m = /^[+]?([0-9]*)(?:\.([0-9]*))?(.*)$/.exec(q)!;
  const whole = m[1] ?? '';
  const frac = m[2] ?? '';
  const suffix = m[3] ?? '';
  let num = BigInt(`${whole}${frac}` || '0');
  let den = 10n ** BigInt(frac.length);
  const binary: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
  const decimal: Record<string, number> = { m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
  if (suffix in binary) {
    num *= 2n ** BigInt(binary[suffix]!);
  } else {
    const exp = suffix in decimal ? decimal[suffix]! : Number(suffix.slice(1));
    if (exp >= 0) num *= 10n ** BigInt(exp);
    else den *= 10n ** BigInt(-exp);
  }
  return [num, den];
}

/** -1, 0 or 1 as quantity a is less than, equal to or more than b. */
export function compareQuantities(a: string, b: string): number {
  const [an, ad] = quantityValue(a);
  const [bn, bd] = quantityValue(b);
  const l = an * bd;
  const r = bn * ad;
  return l < r ? -1 : l > r ? 1 : 0;
}

export class InvalidSpecError extends Error {
  override name = 'InvalidSpecError';
}

/** Parses a spec the way the API server would admit it (defaults applied, rules checked). */
export function parseSpec(spec: unknown): PeerNetworkSpec {
  const r = specSchema.safeParse(spec);
  if (!r.success) {
    const first = r.error.issues[0]!;
    const path = ['spec', ...first.path.map(String)].join('.');
    throw new InvalidSpecError(`${path}: ${first.message}`);
  }
  return r.data;
}

/** The metadata.name rule of ROOT_RULES, for the operator side. */
export function checkName(name: string): string | undefined {
  if (name.length > MAX_NAME_LENGTH || !new RegExp(NAME_PATTERN).test(name)) {
    return ROOT_RULES[0]!.message;
  }
  return undefined;
}

/** The transition (immutability) rules of TOPOLOGY_RULES, SPEC_RULES and STORAGE_RULES, for the operator side and tests. */
export function checkUpdate(
  oldSpec: PeerNetworkSpec,
  newSpec: PeerNetworkSpec,
): string | undefined {
  const o = resolveTopology(oldSpec.topology);
  const n = resolveTopology(newSpec.topology);
  if (o.mode !== n.mode) return TOPOLOGY_RULES[3]!.message;
  if (o.peersPerPod !== n.peersPerPod) return TOPOLOGY_RULES[4]!.message;
  if ((oldSpec.storage === undefined) !== (newSpec.storage === undefined))
    return SPEC_RULES[6]!.message;
  if (oldSpec.storage && newSpec.storage) {
    if (oldSpec.storage.size !== newSpec.storage.size) return STORAGE_RULES[1]!.message;
    if ((oldSpec.storage.storageClassName ?? '') !== (newSpec.storage.storageClassName ?? ''))
      return STORAGE_RULES[2]!.message;
  }
  return undefined;
}
