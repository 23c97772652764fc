// Leader election on a coordination.k8s.io/v1 Lease, written with resourceVersion-checked
// updates (the same protocol as client-go's leaderelection): acquire, renew every retry period,
// give up when a renewal has not succeeded within the renew deadline, release on shutdown.
import type { Clock } from '../reconcile/clock.js';
import { microTime } from '../reconcile/clock.js';
import type { Logger } from '../logger.js';
import { isConflict, isAlreadyExists, type KubeClient, type KubeObject } from './client.js';
import { RESOURCES } from './resources.js';

interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectorOptions {
  namespace: string;
  name: string;
  identity: string;
  /** @default 15000 */
  leaseDurationMs?: number;
  /** @default 10000 */
  renewDeadlineMs?: number;
  /** @default 2000 */
  retryPeriodMs?: number;
}

export interface LeaderElector {
  /**
   * Campaigns until leading, calls `onLeading`, renews until the signal aborts or leadership is
   * lost, then calls `onLost` (never after an abort) and resolves.
   */
  run(signal: AbortSignal, onLeading: () => void, onLost: () => void): Promise<void>;
  /** hands the lease back so a standby takes over at once */
  release(): Promise<void>;
  isLeader(): boolean;
}

// A factory: acquire, renew and release share the lease state.
export function createLeaderElector(
  kube: KubeClient,
  clock: Clock,
  logger: Logger,
  o: LeaderElectorOptions,
): LeaderElector {
  const duration = o.leaseDurationMs ?? 15_000;
  const renewDeadline = o.renewDeadlineMs ?? 10_000;
  const retry = o.retryPeriodMs ?? 2000;
  let leading = false;
  // what we last saw, and when (local clock), so expiry does not depend on other clocks
  let observed: { rv: string; holder: string; at: number } | undefined;

  async function tryAcquireOrRenew(): Promise<boolean> {
    const now = clock.now();
    const lease = await kube.get<Lease>(RESOURCES.Lease, o.namespace, o.name);
    const spec = {
      holderIdentity: o.identity,
      leaseDurationSeconds: Math.ceil(duration / 1000),
      renewTime: microTime(now),
    };
    if (!lease) {
      try {
        await kube.create<Lease>({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: o.name, namespace: o.namespace },
          spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
        });
        return true;
      } catch (e) {
        if (isAlreadyExists(e)) return false;
        throw e;
      }
    }
    const holder = lease.spec?.holderIdentity ?? '';
    const rv = lease.metadata?.resourceVersion ?? '';
    if (!observed || observed.rv !== rv) observed = { rv, holder, at: now };
    const heldByOther = holder !== '' && holder !== o.identity;
    const leaseMs = (lease.spec?.leaseDurationSeconds ?? Math.ceil(duration / 1000)) * 1000;
    if (heldByOther && now - observed.at < leaseMs) return false;
    const transitions = (lease.spec?.leaseTransitions ?? 0) + (holder === o.identity ? 0 : 1);
    try {
      await kube.update<Lease>({
        ...lease,
        spec: {
          ...spec,
          acquireTime:
            holder === o.identity && lease.spec?.acquireTime
              ? lease.spec.acquireTime
              : microTime(now),
          leaseTransitions: transitions,
        },
      });
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }

  /** One try, bounded: a hung API server must not keep a leader acting past its deadline. */
  async function attempt(): Promise<boolean> {
    const bound = new AbortController();
    try {
      return await Promise.race([
        tryAcquireOrRenew(),
        clock.sleep(renewDeadline / 2, bound.signal).then(() => {
          // aborted: the request answered first and this result is ignored
          if (bound.signal.aborted) return false;
          throw new Error(`no answer within ${renewDeadline / 2} ms`);
        }),
      ]);
    } catch (e) {
      logger.warn({ err: (e as Error).message }, 'lease request failed');
      return false;
    } finally {
      bound.abort();
    }
  }

  return {
    isLeader: () => leading,
    async run(signal, onLeading, onLost) {
      while (!signal.aborted && !(await attempt())) await clock.sleep(retry, signal);
      if (signal.aborted) return;
      leading = true;
      logger.info({ lease: `${o.namespace}/${o.name}`, identity: o.identity }, 'became leader');
      onLeading();
      let lastRenew = clock.now();
      while (!signal.aborted) {
        await clock.sleep(retry, signal);
        if (signal.aborted) break;
        if (await attempt()) {
          lastRenew = clock.now();
        } else if (clock.now() - lastRenew > renewDeadline) {
          leading = false;
          logger.error({ lease: `${o.namespace}/${o.name}` }, 'lost leadership');
          onLost();
          return;
        }
      }
    },
    async release() {
      if (!leading) return;
      leading = false;
      try {
        const lease = await kube.get<Lease>(RESOURCES.Lease, o.namespace, o.name);
        if (!lease || lease.spec?.holderIdentity !== o.identity) return;
        const now = clock.now();
        await kube.update<Lease>({
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: '',
            leaseDurationSeconds: 1,
            renewTime: microTime(now),
          },
        });
        logger.info({ lease: `${o.namespace}/${o.name}` }, 'released leadership');
      } catch (e) {
        logger.warn({ err: (e as Error).message }, 'could not release the lease');
      }
    },
  };
}
