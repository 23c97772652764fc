import type { ChildProcess } from 'node:child_process';
import { chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { launchContainer } from './container.js';
import type { NodeNetwork, PodNetwork, PodSandboxNetwork } from './net.js';
import { createProbeWorker, type ProbeWorker } from './probes.js';
import {
  containerEnv,
  MissingReferenceError,
  objectData,
  peerArgs,
  unsupportedReason,
  type ObjectLookup,
} from './podspec.js';
import {
  buildPodStatus,
  rfc3339,
  type ContainerStateJson,
  type ContainerView,
  type TerminatedJson,
} from './podstatus.js';
import { projectKeys, renderHosts, writeAtomicDir, type HostsEntry } from './volumes.js';

export interface PodWorkerDeps {
  net: PodNetwork;
  node: NodeNetwork;
  /** `<stateDir>/pods/<ns>_<pod>_<uid>` is this pod's directory. */
  stateDir: string;
  logsDir: string;
  /** argv prefix that runs the peer program: [node, dist/peer/cli/peernet-peer.js]. */
  peerArgv: readonly string[];
  lookup: ObjectLookup;
  hostsFor(pod: V1Pod): HostsEntry[];
  /** Writes a status patch (the runtime skips writes that change nothing). */
  reportStatus(pod: V1Pod, status: Record<string, unknown>): void;
  /** Removes the pod object once everything is cleaned up (delete with grace 0, uid precondition). */
  deletePod(pod: V1Pod): Promise<void>;
  /** A service account token for projected volumes (TokenRequest); '' when it cannot be had. */
  requestToken(pod: V1Pod, expirationSeconds: number): Promise<string>;
  restartBackoff: { initialMs: number; maxMs: number };
  logger: Logger;
}

interface ContainerRun {
  spec: V1Container;
  state: ContainerStateJson;
  lastTerminated?: TerminatedJson;
  child?: ChildProcess;
  exited?: Promise<void>;
  startedAt?: Date;
  restartCount: number;
  ready: boolean;
  started: boolean;
  everStarted: boolean;
  willRestart: boolean;
  probes: ProbeWorker[];
  restartTimer?: NodeJS.Timeout;
  backoffMs: number;
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGTERM: 15,
};

/**
 * Runs one pod: its sandbox (network namespace and IP), volumes, hosts file, containers with
 * restarts and probes, and its status. Every operation goes through one queue, so a pod is never
 * set up and torn down at the same time.
 */
export class PodWorker {
  private pod: V1Pod;
  private readonly log: Logger;
  private readonly dir: string;
  private sandbox: PodSandboxNetwork | undefined;
  private readonly containers = new Map<string, ContainerRun>();
  private queue: Promise<void> = Promise.resolve();
  private terminating = false;
  private finished = false;
  private startTime: string | undefined;
  private readonly transitions = new Map<string, { status: string; at: string }>();
  private volumesReady = false;

  constructor(
    pod: V1Pod,
    private readonly deps: PodWorkerDeps,
  ) {
    this.pod = pod;
    const m = pod.metadata ?? {};
    this.log = deps.logger.child({ pod: `${m.namespace ?? ''}/${m.name ?? ''}` });
    this.dir = join(deps.stateDir, 'pods', `${m.namespace ?? ''}_${m.name ?? ''}_${m.uid ?? ''}`);
    for (const c of pod.spec?.containers ?? []) {
      this.containers.set(c.name, {
        spec: c,
        state: { waiting: { reason: 'ContainerCreating' } },
        restartCount: 0,
        ready: false,
        started: false,
        everStarted: false,
        willRestart: true,
        probes: [],
        backoffMs: deps.restartBackoff.initialMs,
      });
    }
  }

  get key(): string {
    return `${this.pod.metadata?.namespace ?? ''}/${this.pod.metadata?.name ?? ''}`;
  }
  get uid(): string {
    return this.pod.metadata?.uid ?? '';
  }
  get ip(): string | undefined {
    return this.sandbox?.ip;
  }
  get netns(): string | undefined {
    return this.sandbox?.netns;
  }
  /** Process ids of the running containers, by container name. */
  pids(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, run] of this.containers)
      if (run.child?.pid !== undefined) out[name] = run.child.pid;
    return out;
  }
  get current(): V1Pod {
    return this.pod;
  }
  get done(): boolean {
    return this.finished;
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const next = this.queue
      .then(fn)
      .catch((err: unknown) => this.log.error({ err }, 'pod operation failed'));
    this.queue = next;
    return next;
  }

  /** The pod object changed (or something it references did): converge. */
  sync(pod: V1Pod): Promise<void> {
    this.pod = pod;
    return this.enqueue(async () => {
      if (this.finished) return;
      if (pod.metadata?.deletionTimestamp !== undefined) {
        const grace =
          pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
        await this.doTerminate(grace, true);
        return;
      }
      if (this.sandbox === undefined) await this.setUp();
      await this.materializeVolumes();
      for (const run of this.containers.values()) {
        if (
          !run.everStarted &&
          run.child === undefined &&
          run.restartTimer === undefined &&
          this.volumesReady
        ) {
          await this.startContainer(run);
        }
      }
      this.report();
    });
  }

  /** The pod is gone from the API (or the node is going away): stop it and clean up. */
  terminate(graceSeconds: number, deleteFromApi: boolean): Promise<void> {
    return this.enqueue(() => this.doTerminate(graceSeconds, deleteFromApi));
  }

  refreshHosts(): Promise<void> {
    return this.enqueue(async () => {
      if (this.sandbox !== undefined && !this.finished) await this.writeHosts();
    });
  }

  private async setUp(): Promise<void> {
    await mkdir(join(this.dir, 'volumes'), { recursive: true });
    this.sandbox = await this.deps.net.createSandbox(
      this.deps.node.index,
      `${this.pod.metadata?.namespace ?? ''}_${this.pod.metadata?.name ?? ''}`,
    );
    this.startTime = rfc3339(new Date());
    await this.writeHosts();
    this.log.info({ ip: this.sandbox.ip, netns: this.sandbox.netns }, 'pod sandbox ready');
  }

  private async writeHosts(): Promise<void> {
    if (this.sandbox === undefined) return;
    const hostname = this.pod.spec?.hostname ?? this.pod.metadata?.name ?? '';
    // Written in place, not renamed: the file is bind-mounted over /etc/hosts by inode.
    await writeFile(
      join(this.dir, 'hosts'),
      renderHosts({ ip: this.sandbox.ip, hostname }, this.deps.hostsFor(this.pod)),
    );
  }

  private ids(): { uid?: number; gid?: number; fsGroup?: number } {
    const psc = this.pod.spec?.securityContext;
    return { uid: psc?.runAsUser, gid: psc?.runAsGroup, fsGroup: psc?.fsGroup };
  }

  /** Secret and ConfigMap volumes as files, rewritten atomically when their objects change. */
  private async materializeVolumes(): Promise<void> {
    const ns = this.pod.metadata?.namespace ?? 'default';
    const { uid, gid, fsGroup } = this.sandbox?.netns === undefined ? {} : this.ids();
    const owner = uid !== undefined ? { uid, gid: fsGroup ?? gid ?? uid } : {};
    const missing: string[] = [];
    for (const v of this.pod.spec?.volumes ?? []) {
      const dir = join(this.dir, 'volumes', v.name);
      if (v.secret !== undefined || v.configMap !== undefined) {
        const kind = v.secret !== undefined ? 'secret' : 'configMap';
        const name = v.secret?.secretName ?? v.configMap?.name ?? '';
        const obj =
          kind === 'secret'
            ? this.deps.lookup.secret(ns, name)
            : this.deps.lookup.configMap(ns, name);
        const optional = (v.secret?.optional ?? v.configMap?.optional) === true;
        if (obj === undefined && !optional) {
          missing.push(`${kind} ${name}`);
          continue;
        }
        const data = obj === undefined ? new Map<string, Buffer>() : objectData(obj, kind);
        const files = projectKeys(data, v.secret?.items ?? v.configMap?.items);
        const mode = v.secret?.defaultMode ?? v.configMap?.defaultMode ?? 0o644;
        if (await writeAtomicDir(dir, files, { mode, ...owner }))
          this.log.debug({ volume: v.name }, 'volume written');
      } else if (v.projected !== undefined) {
        const files = new Map<string, Buffer>();
        for (const src of v.projected.sources ?? []) {
          const ref = src.secret ?? src.configMap;
          if (ref !== undefined) {
            const kind = src.secret !== undefined ? 'secret' : 'configMap';
            const obj =
              kind === 'secret'
                ? this.deps.lookup.secret(ns, ref.name ?? '')
                : this.deps.lookup.configMap(ns, ref.name ?? '');
            if (obj === undefined) {
              if (ref.optional !== true) missing.push(`${kind} ${ref.name ?? ''}`);
              continue;
            }
            for (const [k, b] of projectKeys(objectData(obj, kind), ref.items)) files.set(k, b);
          }
          for (const item of src.downwardAPI?.items ?? []) {
            const path = item.fieldRef?.fieldPath;
            const value =
              path === 'metadata.namespace'
                ? ns
                : path === 'metadata.name'
                  ? (this.pod.metadata?.name ?? '')
                  : path === 'metadata.uid'
                    ? this.uid
                    : '';
            files.set(item.path, Buffer.from(value));
          }
          if (src.serviceAccountToken !== undefined) {
            const token = await this.deps.requestToken(
              this.pod,
              src.serviceAccountToken.expirationSeconds ?? 3600,
            );
            files.set(src.serviceAccountToken.path, Buffer.from(token));
          }
        }
        await writeAtomicDir(dir, files, { mode: v.projected.defaultMode ?? 0o644, ...owner });
      } else if (v.emptyDir !== undefined) {
        await mkdir(dir, { recursive: true, mode: 0o1777 });
        if (owner.uid !== undefined) await chown(dir, owner.uid, owner.gid);
      } else if (v.hostPath === undefined) {
        missing.push(
          `volume ${v.name}: only secret, configMap, projected, emptyDir and hostPath volumes are supported`,
        );
      }
    }
    this.volumesReady = missing.length === 0;
    if (!this.volumesReady) {
      for (const run of this.containers.values()) {
        if (!run.everStarted)
          run.state = {
            waiting: { reason: 'ContainerCreating', message: `waiting for ${missing.join(', ')}` },
          };
      }
    }
  }

  private mountsFor(c: V1Container): Array<{ source: string; target: string; readOnly: boolean }> {
    const volumes = new Map((this.pod.spec?.volumes ?? []).map((v) => [v.name, v]));
    const out: Array<{ source: string; target: string; readOnly: boolean }> = [];
    for (const m of c.volumeMounts ?? []) {
      const v = volumes.get(m.name);
      if (v === undefined) continue;
      const base = v.hostPath !== undefined ? v.hostPath.path : join(this.dir, 'volumes', m.name);
      out.push({
        source: m.subPath !== undefined && m.subPath !== '' ? join(base, m.subPath) : base,
        target: m.mountPath,
        readOnly:
          m.readOnly === true ||
          v.secret !== undefined ||
          v.configMap !== undefined ||
          v.projected !== undefined,
      });
    }
    return out;
  }

  private async startContainer(run: ContainerRun): Promise<void> {
    run.restartTimer = undefined;
    if (this.terminating || this.sandbox === undefined) return;
    const c = run.spec;
    const why = unsupportedReason(c);
    if (why !== undefined) {
      run.state = { waiting: why };
      this.log.warn({ container: c.name, image: c.image }, why.message);
      return;
    }
    let env: Record<string, string>;
    try {
      env = containerEnv(
        this.pod,
        c,
        { podIp: this.sandbox.ip, hostIp: this.deps.node.gatewayIp },
        this.deps.lookup,
      );
    } catch (err) {
      if (!(err instanceof MissingReferenceError)) throw err;
      run.state = { waiting: { reason: 'CreateContainerConfigError', message: err.message } };
      return;
    }
    const sc = c.securityContext;
    const ids = this.ids();
    // Without namespaces (loopback fallback) the runtime is not root and cannot switch users.
    const uid = this.sandbox.netns === undefined ? undefined : (sc?.runAsUser ?? ids.uid);
    const gid = this.sandbox.netns === undefined ? undefined : (sc?.runAsGroup ?? ids.gid);
    const ns = this.pod.metadata?.namespace ?? '';
    const podName = this.pod.metadata?.name ?? '';
    const child = await launchContainer({
      netns: this.sandbox.netns,
      podIp: this.sandbox.ip,
      mounts: this.mountsFor(c),
      hostsFile: join(this.dir, 'hosts'),
      scratchDir: join(this.dir, 'containers', c.name),
      env,
      uid,
      gid,
      argv: [...this.deps.peerArgv, ...peerArgs(c, env)],
      logFile: join(this.deps.logsDir, `${ns}_${podName}_${c.name}.log`),
    });
    run.child = child;
    run.startedAt = new Date();
    run.everStarted = true;
    run.state = { running: { startedAt: rfc3339(run.startedAt) } };
    run.ready = c.readinessProbe === undefined;
    run.started = c.startupProbe === undefined;
    run.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.onExit(run, child, code, signal);
        resolve();
      });
      child.on('error', (err) => {
        this.log.error({ err, container: c.name }, 'container failed to start');
      });
    });
    this.log.info(
      { container: c.name, pid: child.pid, restartCount: run.restartCount },
      'container started',
    );
    this.startProbes(run);
  }

  private startProbes(run: ContainerRun): void {
    const ip = this.sandbox?.ip;
    if (ip === undefined) return;
    const c = run.spec;
    if (c.startupProbe !== undefined) {
      run.probes.push(
        createProbeWorker({
          probe: c.startupProbe,
          container: c,
          podIp: ip,
          initial: false,
          onChange: (ok, message) => {
            if (ok && !run.started) {
              run.started = true;
              this.report();
            } else if (!ok) this.kill(run, `startup probe failed: ${message}`);
          },
        }),
      );
    }
    if (c.readinessProbe !== undefined) {
      run.probes.push(
        createProbeWorker({
          probe: c.readinessProbe,
          container: c,
          podIp: ip,
          initial: false,
          onChange: (ok) => {
            run.ready = ok && run.child !== undefined;
            this.report();
          },
        }),
      );
    }
    if (c.livenessProbe !== undefined) {
      run.probes.push(
        createProbeWorker({
          probe: c.livenessProbe,
          container: c,
          podIp: ip,
          initial: true,
          onChange: (ok, message) => {
            if (!ok) this.kill(run, `liveness probe failed: ${message}`);
          },
        }),
      );
    }
    for (const p of run.probes) p.start();
  }

  private stopProbes(run: ContainerRun): void {
    for (const p of run.probes) p.stop();
    run.probes = [];
  }

  private kill(run: ContainerRun, why: string): void {
    const child = run.child;
    if (child === undefined || this.terminating) return;
    this.log.warn({ container: run.spec.name }, `killing container: ${why}`);
    const grace = (this.pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
    this.stopProbes(run);
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), grace);
    child.once('exit', () => clearTimeout(t));
  }

  private onExit(
    run: ContainerRun,
    child: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    if (run.child !== child) return;
    run.child = undefined;
    this.stopProbes(run);
    run.ready = false;
    run.started = false;
    const finishedAt = new Date();
    const exitCode = code ?? 128 + (SIGNALS[signal ?? ''] ?? 0);
    const terminated: TerminatedJson = {
      exitCode,
      ...(signal !== null ? { signal: SIGNALS[signal] ?? 0 } : {}),
      reason: exitCode === 0 ? 'Completed' : 'Error',
      startedAt: rfc3339(run.startedAt ?? finishedAt),
      finishedAt: rfc3339(finishedAt),
    };
    const ranMs = finishedAt.getTime() - (run.startedAt ?? finishedAt).getTime();
    this.log.info({ container: run.spec.name, exitCode, signal }, 'container exited');
    if (this.terminating) {
      run.state = { terminated };
      run.willRestart = false;
      return;
    }
    const policy = this.pod.spec?.restartPolicy ?? 'Always';
    const restart = policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
    if (!restart) {
      run.state = { terminated };
      run.willRestart = false;
      this.report();
      return;
    }
    // The kubelet's crash-loop backoff: doubling from the initial delay, reset after a long run.
    if (ranMs > 10 * this.deps.restartBackoff.maxMs)
      run.backoffMs = this.deps.restartBackoff.initialMs;
    const delay = run.backoffMs;
    run.backoffMs = Math.min(run.backoffMs * 2, this.deps.restartBackoff.maxMs);
    run.lastTerminated = terminated;
    run.state = {
      waiting: {
        reason: 'CrashLoopBackOff',
        message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${run.spec.name}`,
      },
    };
    run.restartTimer = setTimeout(() => {
      void this.enqueue(async () => {
        if (this.terminating || this.finished) return;
        run.restartCount++;
        await this.materializeVolumes();
        await this.startContainer(run);
        this.report();
      });
    }, delay);
    this.report();
  }

  private async doTerminate(graceSeconds: number, deleteFromApi: boolean): Promise<void> {
    if (this.finished) return;
    this.terminating = true;
    const runs = [...this.containers.values()];
    for (const run of runs) {
      if (run.restartTimer !== undefined) clearTimeout(run.restartTimer);
      run.restartTimer = undefined;
      this.stopProbes(run);
      run.ready = false;
    }
    const alive = runs.filter((r) => r.child !== undefined);
    if (alive.length > 0) {
      this.log.info({ graceSeconds }, 'stopping containers');
      for (const r of alive) r.child?.kill('SIGTERM');
      const all = Promise.all(alive.map((r) => r.exited ?? Promise.resolve()));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        all.then(() => false),
        new Promise<boolean>(
          (resolve) => (timer = setTimeout(() => resolve(true), graceSeconds * 1000)),
        ),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.log.warn('grace period over: SIGKILL');
        for (const r of alive) r.child?.kill('SIGKILL');
        await all;
      }
    }
    if (this.sandbox !== undefined) await this.deps.net.deleteSandbox(this.sandbox);
    await rm(this.dir, { recursive: true, force: true });
    this.finished = true;
    if (deleteFromApi) await this.deps.deletePod(this.pod);
    this.log.info('pod stopped and cleaned up');
  }

  /** Builds the status from what runs now and hands it to the runtime. */
  report(): void {
    if (this.finished || this.terminating) return;
    const containers: ContainerView[] = [...this.containers.values()].map((r) => ({
      name: r.spec.name,
      image: r.spec.image ?? '',
      state: r.state,
      ...(r.lastTerminated !== undefined ? { lastTerminated: r.lastTerminated } : {}),
      ready: r.ready,
      started: r.started,
      restartCount: r.restartCount,
      willRestart: r.willRestart,
      everStarted: r.everStarted,
    }));
    const status = buildPodStatus({
      podUid: this.uid,
      sandboxReady: this.sandbox !== undefined,
      ...(this.sandbox !== undefined ? { podIp: this.sandbox.ip } : {}),
      hostIp: this.deps.node.gatewayIp,
      ...(this.startTime !== undefined ? { startTime: this.startTime } : {}),
      containers,
      foreignConditions: (this.pod.status?.conditions ?? []).map((c) => ({ ...c })),
      transitions: this.transitions,
      now: rfc3339(new Date()),
    });
    this.deps.reportStatus(this.pod, status);
  }
}
