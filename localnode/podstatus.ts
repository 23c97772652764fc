/** Pure builders for the pod status the runtime reports; times are passed in. */

export type ContainerStateJson =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: TerminatedJson };

export interface TerminatedJson {
  exitCode: number;
  signal?: number;
  reason: string;
  message?: string;
  startedAt: string;
  finishedAt: string;
}

export interface ContainerView {
  name: string;
  image: string;
  state: ContainerStateJson;
  lastTerminated?: TerminatedJson;
  ready: boolean;
  started: boolean;
  restartCount: number;
  /** False when the container will not run again (restartPolicy Never/OnFailure after exit). */
  willRestart: boolean;
  /** True once the container has been started at least once. */
  everStarted: boolean;
}

export interface PodView {
  podUid: string;
  sandboxReady: boolean;
  podIp?: string;
  hostIp: string;
  startTime?: string;
  containers: ContainerView[];
  /** Conditions the runtime does not own (PodScheduled from the scheduler), kept as they are. */
  foreignConditions: ReadonlyArray<Record<string, unknown>>;
  /** Last transition times by condition type, carried across reports. */
  transitions: Map<string, { status: string; at: string }>;
  now: string;
}

export function podPhase(view: PodView): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
  const cs = view.containers;
  if (!view.sandboxReady || cs.length === 0) return 'Pending';
  const finished = cs.every((c) => 'terminated' in c.state && !c.willRestart);
  if (finished)
    return cs.every((c) => 'terminated' in c.state && c.state.terminated.exitCode === 0)
      ? 'Succeeded'
      : 'Failed';
  if (cs.every((c) => c.everStarted)) return 'Running';
  return 'Pending';
}

function condition(
  view: PodView,
  type: string,
  ok: boolean,
  reason?: string,
): Record<string, unknown> {
  const status = ok ? 'True' : 'False';
  const prev = view.transitions.get(type);
  const at = prev !== undefined && prev.status === status ? prev.at : view.now;
  view.transitions.set(type, { status, at });
  return {
    type,
    status,
    lastProbeTime: null,
    lastTransitionTime: at,
    ...(reason !== undefined && !ok ? { reason } : {}),
  };
}

/** The body of a merge patch on the status subresource. */
export function buildPodStatus(view: PodView): Record<string, unknown> {
  const phase = podPhase(view);
  const allReady = view.containers.length > 0 && view.containers.every((c) => c.ready);
  const owned = new Set(['Initialized', 'PodReadyToStartContainers', 'ContainersReady', 'Ready']);
  const conditions = [
    ...view.foreignConditions.filter((c) => !owned.has(String(c.type))),
    condition(view, 'PodReadyToStartContainers', view.sandboxReady),
    condition(view, 'Initialized', true),
    condition(view, 'ContainersReady', allReady, 'ContainersNotReady'),
    condition(view, 'Ready', allReady, 'ContainersNotReady'),
  ];
  return {
    phase,
    hostIP: view.hostIp,
    hostIPs: [{ ip: view.hostIp }],
    ...(view.podIp !== undefined ? { podIP: view.podIp, podIPs: [{ ip: view.podIp }] } : {}),
    ...(view.startTime !== undefined ? { startTime: view.startTime } : {}),
    conditions,
    containerStatuses: view.containers.map((c, i) => ({
      name: c.name,
      image: c.image,
      imageID: `peernet-localnode://${c.image}`,
      containerID: `peernet-localnode://${view.podUid}/${i}/${c.restartCount}`,
      ready: c.ready,
      started: c.started,
      restartCount: c.restartCount,
      state: c.state,
      lastState: c.lastTerminated !== undefined ? { terminated: c.lastTerminated } : {},
    })),
  };
}

/** RFC 3339 with seconds, as metav1.Time serializes. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** RFC 3339 with microseconds, as metav1.MicroTime (Lease renewTime) wants. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
