// Host-side plumbing of the real nodes: the slot claim, the bridge, each node's network
// namespace and routes, and a teardown that removes every trace (processes, mounts, cgroups,
// links, namespaces, folders, sysctls). Teardown is synchronous so it also runs from an exit
// handler (Ctrl-C, a closed pipe, a crash) and from the next start after a crash.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { MAX_SLOTS, nodeLayout, slotLayout, type NodeLayout, type SlotLayout } from './layout.js';

const RUN_ROOT = '/run/peernet';
const SYSCTL_FILE = join(RUN_ROOT, 'sysctl-before.json');
/** The machine-wide sysctls a kubelet sets at start (`protectKernelDefaults: false`). */
export const KUBELET_SYSCTLS = [
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
] as const;
/** Folders a kubelet or CNI plugin may create outside the node's own ones. */
const SHARED_DIRS = [
  '/var/log/containers',
  '/var/log/pods',
  '/var/lib/cni',
  '/run/containerd',
  // `ip netns add` creates it and bind-mounts it onto itself
  '/run/netns',
];
const SHARED_FILE = join(RUN_ROOT, 'shared-dirs-before.json');

export function sh(cmd: string, args: readonly string[], allowFail = false): string {
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
  } catch (err) {
    if (allowFail) return '';
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}`);
  }
}

function ownerFile(slot: SlotLayout): string {
  return join(slot.runDir, 'owner');
}

/** A claim is made by mkdir and its owner written right after: older than this, it was left. */
const HALF_CLAIM_MS = 60_000;

/**
 * Claims a free slot for the cluster in `clusterDir` (mkdir is the atomic claim). A slot whose
 * owner is dead (`isAlive` says so), or that was left without an owner (a start or a teardown
 * killed halfway), is torn down and taken.
 */
export function claimSlot(clusterDir: string, isAlive: (ownerDir: string) => boolean): SlotLayout {
  const busy: string[] = [];
  for (let s = 1; s <= MAX_SLOTS; s++) {
    const slot = slotLayout(s);
    if (existsSync(slot.runDir)) {
      let owner = '';
      try {
        owner = readFileSync(ownerFile(slot), 'utf8').trim();
      } catch {
        // a claim without an owner yet, or half removed
      }
      const left = owner === '' && Date.now() - ageBase(slot.runDir) > HALF_CLAIM_MS;
      if (owner === clusterDir || left || (owner !== '' && !isAlive(owner))) {
        try {
          teardownSlot(slot, owner);
        } catch (err) {
          busy.push(`c${s}: left by ${owner || 'a halted start'}, not removable: ${String(err)}`);
          continue;
        }
      } else {
        busy.push(`c${s}: ${owner === '' ? 'being claimed' : `in use by ${owner}`}`);
        continue;
      }
    }
    try {
      // tearing down a slot left by a dead cluster removes the root once no slot is left
      mkdirSync(RUN_ROOT, { recursive: true });
      mkdirSync(slot.runDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new Error(`cannot claim a real-node slot: ${String(err)}`);
      busy.push(`c${s}: taken by another start meanwhile`);
      continue;
    }
    writeFileSync(ownerFile(slot), clusterDir + '\n');
    rememberHostState();
    return slot;
  }
  throw new Error(
    `all ${MAX_SLOTS} real-node slots under ${RUN_ROOT} are in use (${busy.slice(0, 3).join('; ')}${busy.length > 3 ? '; …' : ''})`,
  );
}

/** When a slot folder was last changed (0 if it is gone). */
function ageBase(dir: string): number {
  try {
    return statSync(dir).mtimeMs;
  } catch {
    return 0;
  }
}

/** Whether the slot is (still) claimed by the cluster in `clusterDir`: a slot may be reused. */
export function ownsSlot(slot: SlotLayout, clusterDir: string): boolean {
  try {
    return readFileSync(ownerFile(slot), 'utf8').trim() === clusterDir;
  } catch {
    return false;
  }
}

/** Saves the machine-wide state the nodes change, once, while no slot is in use. */
function rememberHostState(): void {
  if (!existsSync(SYSCTL_FILE)) {
    const values: Record<string, string> = {};
    for (const k of KUBELET_SYSCTLS) values[k] = sh('sysctl', ['-n', k], true).trim();
    writeFileSync(SYSCTL_FILE, JSON.stringify(values));
  }
  if (!existsSync(SHARED_FILE)) {
    writeFileSync(SHARED_FILE, JSON.stringify(SHARED_DIRS.filter((d) => existsSync(d))));
  }
}

/** Restores what rememberHostState saved, when no slot is in use any more. */
function restoreHostState(): void {
  const inUse = existsSync(RUN_ROOT) && readdirSync(RUN_ROOT).some((e) => /^c\d+$/.test(e));
  if (inUse) return;
  if (existsSync(SYSCTL_FILE)) {
    const values = JSON.parse(readFileSync(SYSCTL_FILE, 'utf8')) as Record<string, string>;
    for (const [k, v] of Object.entries(values))
      if (v !== '') sh('sysctl', ['-q', '-w', `${k}=${v}`], true);
  }
  if (existsSync(SHARED_FILE)) {
    const before = new Set(JSON.parse(readFileSync(SHARED_FILE, 'utf8')) as string[]);
    for (const d of SHARED_DIRS) {
      if (before.has(d)) continue;
      unmountUnder([d]);
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        // something of someone else's is mounted inside: leave it
      }
    }
  }
  rmSync(RUN_ROOT, { recursive: true, force: true });
}

/** The host's bridge, holding the address the API server and cluster DNS listen on. */
export function setUpSlotNetwork(slot: SlotLayout): void {
  sh('ip', ['link', 'add', slot.bridge, 'type', 'bridge']);
  sh('ip', ['addr', 'add', `${slot.hostIp}/24`, 'dev', slot.bridge]);
  sh('ip', ['link', 'set', slot.bridge, 'up']);
}

/**
 * A node's namespace on the bridge, and routes between its pods and those of the nodes already
 * there (in both directions): the nodes route, the host does not forward.
 */
export function setUpNodeNetwork(
  slot: SlotLayout,
  node: NodeLayout,
  existing: readonly NodeLayout[],
): void {
  const ns = node.netns;
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['link', 'add', node.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  sh('ip', ['link', 'set', node.hostVeth, 'master', slot.bridge, 'up']);
  sh('ip', ['-n', ns, 'addr', 'add', `${node.ip}/24`, 'dev', 'eth0']);
  sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', slot.hostIp]);
  sh('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  for (const other of existing) {
    if (other.index === node.index) continue;
    sh('ip', ['-n', ns, 'route', 'replace', other.podCidr, 'via', other.ip]);
    sh('ip', ['-n', other.netns, 'route', 'replace', node.podCidr, 'via', node.ip], true);
  }
  sh('ip', ['route', 'replace', node.podCidr, 'via', node.ip, 'dev', slot.bridge]);
}

/** Pids whose command line mentions one of `needles` (our servers, containerd's shims). */
function pidsMentioning(needles: readonly string[]): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (needles.some((n) => cmdline.includes(n))) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/** Pids of every process in a cgroup subtree (the node's containers). */
function pidsInCgroup(root: string): number[] {
  const out: number[] = [];
  const walk = (dir: string): void => {
    try {
      for (const p of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n'))
        if (p !== '') out.push(Number(p));
      for (const e of readdirSync(dir, { withFileTypes: true }))
        if (e.isDirectory()) walk(join(dir, e.name));
    } catch {
      // gone
    }
  };
  walk(root);
  return out;
}

function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

function cgroupControllers(): string[] {
  try {
    return readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c));
  } catch {
    return [];
  }
}

/**
 * The kubelet's cgroup root must exist under every controller before it starts. On cgroup v1 a
 * new cpuset has no CPUs or memory nodes until given its parent's.
 */
export function createCgroupRoot(root: string): void {
  const name = root.replace(/^\//, '');
  for (const c of cgroupControllers()) {
    if (c.endsWith('/unified')) continue;
    const dir = join(c, name);
    mkdirSync(dir, { recursive: true });
    if (c.endsWith('/cpuset')) {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        writeFileSync(join(dir, f), readFileSync(join(c, f), 'utf8'));
      }
    }
  }
}

/** Removes a cgroup subtree under every controller, leaves first. */
function removeCgroups(root: string): void {
  const rm = (dir: string): void => {
    try {
      for (const e of readdirSync(dir, { withFileTypes: true }))
        if (e.isDirectory()) rm(join(dir, e.name));
      rmdirSync(dir);
    } catch {
      // gone, or still busy (reported by the caller's check)
    }
  };
  for (const c of cgroupControllers()) rm(join(c, root.replace(/^\//, '')));
}

/** Unmounts (lazily) every mount point under one of the prefixes, deepest first. */
function unmountUnder(prefixes: readonly string[]): void {
  const points: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const point = line.split(' ')[4]?.replace(/\\040/g, ' ');
    if (point !== undefined && prefixes.some((p) => point === p || point.startsWith(p + '/')))
      points.push(point);
  }
  points.sort((a, b) => b.length - a.length);
  for (const p of points) sh('umount', ['-l', p], true);
}

/** Node indices of a slot, from the namespaces and cgroups that exist. */
function slotNodeIndices(slot: SlotLayout): number[] {
  const prefix = `peernet-c${slot.slot}-n`;
  const names = [
    ...readdirOr('/run/netns'),
    ...cgroupControllers().flatMap((c) => readdirOr(c)),
    ...readdirOr(slot.runDir),
  ];
  const out = new Set<number>();
  for (const n of names) {
    if (n.startsWith(prefix)) out.add(Number(n.slice(prefix.length)));
    else if (/^n\d+$/.test(n)) out.add(Number(n.slice(1)));
  }
  return [...out].filter((i) => Number.isInteger(i) && i > 0);
}

/**
 * Stops one node as a machine stops: every process of it (containers, kubelet, kube-proxy,
 * containerd and its shims) killed; then its mounts, cgroups, namespace, route and folders go.
 */
export function teardownNode(slot: SlotLayout, node: NodeLayout): void {
  const needles = [node.runDir + '/', node.dir + '/'];
  for (let round = 0; round < 3; round++) {
    const pids = [
      ...cgroupControllers().flatMap((c) => pidsInCgroup(join(c, node.cgroupRoot.slice(1)))),
      ...pidsMentioning(needles),
    ];
    if (pids.length === 0) break;
    killAll([...new Set(pids)]);
    sh('sleep', ['0.3'], true);
  }
  unmountUnder([node.runDir, node.dir]);
  removeCgroups(node.cgroupRoot);
  sh('ip', ['netns', 'del', node.netns], true);
  sh('ip', ['route', 'del', node.podCidr], true);
  rmSync(node.dir, { recursive: true, force: true });
  rmSync(node.runDir, { recursive: true, force: true });
}

function readdirOr(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Stops and removes everything of one slot: every node (see teardownNode), the bridge and the
 * slot's folders; then the machine-wide state once no slot is left. `ownerDir` is the cluster
 * folder (its `nodes/` holds the node folders).
 */
export function teardownSlot(slot: SlotLayout, ownerDir: string): void {
  // without an owner (a half-made claim) the node folders are unknown: look under the slot only
  const owner = ownerDir === '' ? slot.runDir : ownerDir;
  for (const i of slotNodeIndices(slot)) teardownNode(slot, nodeLayout(slot, owner, i, []));
  sh('ip', ['link', 'del', slot.bridge], true);
  if (ownerDir !== '') rmSync(join(ownerDir, 'nodes'), { recursive: true, force: true });
  // whatever a killed node left mounted under the slot would make the removal fail halfway
  unmountUnder([slot.runDir]);
  rmSync(slot.runDir, { recursive: true, force: true });
  restoreHostState();
}
