// Renders the PeerNetwork CRD from the zod schema (pure; scripts/gen-crd.ts writes the files).
import { z } from 'zod';
import {
  API_VERSION,
  GROUP,
  KIND,
  PLURAL,
  ROOT_RULES,
  SHORT_NAME,
  SINGULAR,
  VERSION,
  specSchema,
  statusSchema,
} from './schema.js';

export type JsonSchema = { [key: string]: unknown };

/**
 * Turns zod's OpenAPI 3.0 output into a structural schema the API server accepts:
 * no `$schema`, no `additionalProperties: false` (unknown fields are pruned, and refused by
 * strict field validation, which kubectl uses by default), maps keep `additionalProperties`.
 */
export function toStructural(schema: unknown): JsonSchema {
  if (Array.isArray(schema)) return schema.map(toStructural) as unknown as JsonSchema;
  if (schema === null || typeof schema !== 'object') return schema as JsonSchema;
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(schema as JsonSchema)) {
    if (k === '$schema' || k === 'propertyNames') continue;
    if (k === 'additionalProperties' && v === false) continue;
    // CEL rules, enums and defaults are data, not schemas.
    if (k === 'x-kubernetes-validations' || k === 'enum' || k === 'default' || k === 'required') {
      out[k] = v;
      continue;
    }
    if (k === 'properties') {
      const props: JsonSchema = {};
      for (const [pk, pv] of Object.entries(v as JsonSchema)) props[pk] = toStructural(pv);
      out[k] = props;
      continue;
    }
    out[k] = toStructural(v);
  }
  return out;
}

export function specJsonSchema(): JsonSchema {
  return toStructural(z.toJSONSchema(specSchema, { io: 'input', target: 'openapi-3.0' }));
}

export function statusJsonSchema(): JsonSchema {
  return toStructural(z.toJSONSchema(statusSchema, { io: 'output', target: 'openapi-3.0' }));
}

export function buildCrd(): JsonSchema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${PLURAL}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'peernet', 'app.kubernetes.io/part-of': 'peernet' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: [SHORT_NAME],
        categories: ['peernet'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: {
            status: {},
            scale: {
              specReplicasPath: '.spec.replicas',
              statusReplicasPath: '.status.replicas',
              labelSelectorPath: '.status.selector',
            },
          },
          additionalPrinterColumns: [
            {
              name: 'Mode',
              type: 'string',
              jsonPath: '.spec.topology.mode',
              description: 'Topology mode',
            },
            {
              name: 'Ready',
              type: 'string',
              jsonPath: '.status.readyText',
              description: 'Ready peers / desired peers',
            },
            {
              name: 'Phase',
              type: 'string',
              jsonPath: '.status.phase',
              description: 'Pending, Progressing, Ready, Degraded or Failed',
            },
            {
              name: 'Replicas',
              type: 'integer',
              jsonPath: '.spec.replicas',
              description: 'Desired pods',
              priority: 1,
            },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: `A ${KIND} (${API_VERSION}) runs a libp2p peer-to-peer network: replicas pods of peernet peers, placed by topology, that find each other through a bootstrap list the operator maintains.`,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string', description: 'API version of this object.' },
                kind: { type: 'string', description: 'Kind of this object.' },
                metadata: { type: 'object' },
                spec: specJsonSchema(),
                status: statusJsonSchema(),
              },
              'x-kubernetes-validations': ROOT_RULES,
            },
          },
        },
      ],
    },
  };
}
