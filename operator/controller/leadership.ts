// Reconciling only while leading: the campaign for the Lease, and what happens when it is lost
// (renewals failed for the renew deadline, e.g. the API server is down): stop acting before the
// lease can expire for the others, wait for the reconciles in flight, then campaign again. The
// process survives an API server outage.
import type { LeaderElector } from '../kube/leader.js';
import type { Logger } from '../logger.js';

export interface Leadership {
  /** called once the lease is held (the caller waits for synced caches itself) */
  onLead(): void;
  /** called when the lease is lost, before campaigning again; resolves once work stopped */
  onLoss(): Promise<void>;
}

/** Campaigns until `signal` aborts; resolves then. */
export async function campaign(
  elector: LeaderElector,
  signal: AbortSignal,
  log: Logger,
  leadership: Leadership,
): Promise<void> {
  while (!signal.aborted) {
    let lost = false;
    let stopping: Promise<void> | undefined;
    await elector.run(
      signal,
      () => leadership.onLead(),
      () => {
        lost = true;
        stopping = leadership.onLoss();
      },
    );
    if (!lost) break;
    await stopping;
    log.warn('stopped reconciling after losing the lease; campaigning again');
  }
}
