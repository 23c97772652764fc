// Reading the test cluster's audit log (every create/update/patch/delete, see cluster/components.ts)
// to prove who wrote what: the operator's writes are counted, never guessed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from '../../cluster/index.js';

export interface AuditWrite {
  /** The acting user: the impersonated one when impersonation was used. */
  user: string;
  verb: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  code: number;
  at: Date;
}

interface RawEvent {
  stage?: string;
  verb?: string;
  user?: { username?: string };
  impersonatedUser?: { username?: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp?: string;
}

export function auditLogPath(cluster: Cluster): string {
  return join(cluster.dir, 'logs', 'audit.log');
}

/** Completed writes recorded since `since`, optionally only in one namespace. */
export function auditWrites(
  cluster: Cluster,
  filter: { since?: Date; namespace?: string } = {},
): AuditWrite[] {
  let text: string;
  try {
    text = readFileSync(auditLogPath(cluster), 'utf8');
  } catch {
    return [];
  }
  const out: AuditWrite[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let e: RawEvent;
    try {
      e = JSON.parse(line) as RawEvent;
    } catch {
      continue;
    }
    if (e.stage !== 'ResponseComplete') continue;
    const at = new Date(e.requestReceivedTimestamp ?? 0);
    if (filter.since !== undefined && at < filter.since) continue;
    if (filter.namespace !== undefined && e.objectRef?.namespace !== filter.namespace) continue;
    out.push({
      user: e.impersonatedUser?.username ?? e.user?.username ?? '',
      verb: e.verb ?? '',
      resource: e.objectRef?.resource ?? '',
      ...(e.objectRef?.subresource !== undefined ? { subresource: e.objectRef.subresource } : {}),
      ...(e.objectRef?.namespace !== undefined ? { namespace: e.objectRef.namespace } : {}),
      ...(e.objectRef?.name !== undefined ? { name: e.objectRef.name } : {}),
      code: e.responseStatus?.code ?? 0,
      at,
    });
  }
  return out;
}
