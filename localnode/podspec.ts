import type { V1Container, V1EnvVar, V1Pod, V1Secret, V1ConfigMap } from '@kubernetes/client-node';

/** The images the runtime can run: this repository's peer, whatever the registry or tag. */
export const PEER_IMAGE = /^(.*\/)?peernet\/peer(:.+)?$/;

export interface ObjectLookup {
  secret(namespace: string, name: string): V1Secret | undefined;
  configMap(namespace: string, name: string): V1ConfigMap | undefined;
}

/** Why a container cannot run here, or undefined when it can. */
export function unsupportedReason(
  container: V1Container,
): { reason: string; message: string } | undefined {
  if (!PEER_IMAGE.test(container.image ?? '')) {
    return {
      reason: 'ErrImageNeverPull',
      message: `the peernet local node runtime only runs the peer image (peernet/peer[:tag]) as a local process; it cannot pull or run image ${JSON.stringify(container.image ?? '')}`,
    };
  }
  const cmd = container.command ?? [];
  if (cmd.length > 0 && !(cmd[0] ?? '').endsWith('peernet-peer')) {
    return {
      reason: 'CreateContainerError',
      message: `the local node runtime runs only the peernet-peer entrypoint, not ${JSON.stringify(cmd[0])}`,
    };
  }
  return undefined;
}

/** The decoded data of a Secret or ConfigMap, key -> bytes. */
export function objectData(
  obj: V1Secret | V1ConfigMap,
  kind: 'secret' | 'configMap',
): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (kind === 'secret') {
    for (const [k, v] of Object.entries((obj as V1Secret).data ?? {}))
      out.set(k, Buffer.from(v, 'base64'));
    for (const [k, v] of Object.entries((obj as V1Secret).stringData ?? {}))
      out.set(k, Buffer.from(v, 'utf8'));
  } else {
    for (const [k, v] of Object.entries((obj as V1ConfigMap).data ?? {}))
      out.set(k, Buffer.from(v, 'utf8'));
    for (const [k, v] of Object.entries((obj as V1ConfigMap).binaryData ?? {}))
      out.set(k, Buffer.from(v, 'base64'));
  }
  return out;
}

/** Thrown while building a container's environment when a referenced object or key is missing. */
export class MissingReferenceError extends Error {
  override readonly name = 'MissingReferenceError';
}

/** Expands `$(VAR)` as the kubelet does (`$$(VAR)` escapes); unknown references stay as written. */
export function expand(value: string, env: Readonly<Record<string, string>>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => {
    if (m === '$$') return '$';
    return name !== undefined && env[name] !== undefined ? env[name] : m;
  });
}

export interface PodFacts {
  podIp: string;
  hostIp: string;
}

/** The environment of one container: envFrom, then env (later wins), with `$(VAR)` expansion. */
export function containerEnv(
  pod: V1Pod,
  container: V1Container,
  facts: PodFacts,
  lookup: ObjectLookup,
): Record<string, string> {
  const ns = pod.metadata?.namespace ?? 'default';
  const env: Record<string, string> = { HOSTNAME: pod.spec?.hostname ?? pod.metadata?.name ?? '' };
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef !== undefined) {
      const cm = lookup.configMap(ns, from.configMapRef.name ?? '');
      if (cm === undefined) {
        if (from.configMapRef.optional === true) continue;
        throw new MissingReferenceError(
          `configmap ${ns}/${from.configMapRef.name ?? ''} not found`,
        );
      }
      for (const [k, v] of objectData(cm, 'configMap')) env[prefix + k] = v.toString('utf8');
    }
    if (from.secretRef !== undefined) {
      const s = lookup.secret(ns, from.secretRef.name ?? '');
      if (s === undefined) {
        if (from.secretRef.optional === true) continue;
        throw new MissingReferenceError(`secret ${ns}/${from.secretRef.name ?? ''} not found`);
      }
      for (const [k, v] of objectData(s, 'secret')) env[prefix + k] = v.toString('utf8');
    }
  }
  for (const e of container.env ?? []) {
    const v = envValue(pod, e, facts, lookup, env);
    if (v !== undefined) env[e.name] = v;
  }
  return env;
}

function envValue(
  pod: V1Pod,
  e: V1EnvVar,
  facts: PodFacts,
  lookup: ObjectLookup,
  env: Record<string, string>,
): string | undefined {
  if (e.value !== undefined) return expand(e.value, env);
  const ns = pod.metadata?.namespace ?? 'default';
  const from = e.valueFrom;
  if (from === undefined) return '';
  if (from.fieldRef !== undefined) {
    const fields: Record<string, string | undefined> = {
      'metadata.name': pod.metadata?.name,
      'metadata.namespace': ns,
      'metadata.uid': pod.metadata?.uid,
      'spec.nodeName': pod.spec?.nodeName,
      'spec.serviceAccountName': pod.spec?.serviceAccountName,
      'status.podIP': facts.podIp,
      'status.hostIP': facts.hostIp,
    };
    const path = from.fieldRef.fieldPath;
    const label = /^metadata\.labels\['(.+)'\]$/.exec(path)?.[1];
    const annotation = /^metadata\.annotations\['(.+)'\]$/.exec(path)?.[1];
    if (label !== undefined) return pod.metadata?.labels?.[label] ?? '';
    if (annotation !== undefined) return pod.metadata?.annotations?.[annotation] ?? '';
    return fields[path] ?? '';
  }
  const ref = from.secretKeyRef ?? from.configMapKeyRef;
  if (ref !== undefined) {
    const kind = from.secretKeyRef !== undefined ? 'secret' : 'configMap';
    const obj =
      kind === 'secret' ? lookup.secret(ns, ref.name ?? '') : lookup.configMap(ns, ref.name ?? '');
    const v = obj === undefined ? undefined : objectData(obj, kind).get(ref.key);
    if (v === undefined) {
      if (ref.optional === true) return undefined;
      throw new MissingReferenceError(`${kind} ${ns}/${ref.name ?? ''} key ${ref.key} not found`);
    }
    return v.toString('utf8');
  }
  return '';
}

/** The peer program's arguments: the image entrypoint is `peernet-peer`, so command[1..] then args. */
export function peerArgs(container: V1Container, env: Readonly<Record<string, string>>): string[] {
  const cmd = container.command ?? [];
  return [...cmd.slice(1), ...(container.args ?? [])].map((a) => expand(a, env));
}
