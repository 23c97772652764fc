import { writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { AddressExhaustedError, LocalNodeConfigError } from './errors.js';
import { run } from './exec.js';

/**
 * Pod networking for the local nodes: one network namespace per pod, a veth pair into one bridge
 * per node, node n owning `<a>.<b>.<n>.0/24` of the runtime's /16. The host holds `.1` on every
 * bridge and forwards between the bridges only (per-interface forwarding; the global ip_forward
 * stays as it was), pods get no default route, and an `unreachable` route for the whole /16 makes
 * sure nothing addressed to a pod that is gone ever leaves the machine.
 */
export interface PodNetwork {
  /** Removes leftovers of an earlier run with the same range, installs the unreachable route. */
  start(): Promise<void>;
  addNode(index: number): Promise<NodeNetwork>;
  removeNode(index: number): Promise<void>;
  createSandbox(nodeIndex: number, podKey: string): Promise<PodSandboxNetwork>;
  deleteSandbox(sandbox: PodSandboxNetwork): Promise<void>;
  /** Removes every namespace, link and route this network created. */
  stop(): Promise<void>;
}

export interface NodeNetwork {
  index: number;
  bridge: string;
  /** The host's address on this node's bridge, reported as the node's InternalIP and pods' hostIP. */
  gatewayIp: string;
  podCidr: string;
}

export interface PodSandboxNetwork {
  nodeIndex: number;
  /** The pod's network namespace; undefined in the loopback fallback. */
  netns: string | undefined;
  ip: string;
  hostVeth: string;
}

export interface PodNetworkOptions {
  /** A /16 such as `10.213.0.0/16`; its second octet names the links (`pnb213-1`). */
  cidr: string;
  logger: Logger;
}

const CIDR16 = /^(\d{1,3})\.(\d{1,3})\.0\.0\/16$/;

export function parseCidr16(cidr: string): { a: number; b: number } {
  const m = CIDR16.exec(cidr);
  const a = Number(m?.[1]);
  const b = Number(m?.[2]);
  if (m === null || a > 255 || b > 255)
    throw new LocalNodeConfigError(`--pod-cidr must be a /16 like 10.213.0.0/16, got ${cidr}`);
  return { a, b };
}

export function createPodNetwork(options: PodNetworkOptions): PodNetwork {
  const { a, b } = parseCidr16(options.cidr);
  const log = options.logger;
  const tag = String(b);
  const bridgePrefix = `pnb${tag}-`;
  const vethPrefix = `pnv${tag}-`;
  const netnsPrefix = `pn${tag}_`;
  const nodes = new Map<number, { net: NodeNetwork; used: Set<number> }>();
  const sandboxes = new Set<PodSandboxNetwork>();
  let vethCounter = 0;
  let routeInstalled = false;

  async function cleanupLeftovers(): Promise<void> {
    const links = await run('ip', ['-o', 'link', 'show'], { allowFail: true });
    for (const line of links.split('\n')) {
      const name = /^\d+: ([^:@]+)[:@]/.exec(line)?.[1];
      if (name !== undefined && (name.startsWith(bridgePrefix) || name.startsWith(vethPrefix))) {
        log.warn({ link: name }, 'removing a link left over by an earlier run');
        await run('ip', ['link', 'del', name], { allowFail: true });
      }
    }
    const namespaces = await run('ip', ['netns', 'list'], { allowFail: true });
    for (const line of namespaces.split('\n')) {
      const name = line.split(' ')[0];
      if (name !== undefined && name.startsWith(netnsPrefix)) {
        log.warn({ netns: name }, 'removing a network namespace left over by an earlier run');
        // Processes of a runtime that was killed outright still live in there: end them first.
        const pids = await run('ip', ['netns', 'pids', name], { allowFail: true });
        for (const pid of pids
          .split('\n')
          .map(Number)
          .filter((p) => p > 0)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        await run('ip', ['netns', 'del', name], { allowFail: true });
      }
    }
    await run('ip', ['route', 'del', 'unreachable', options.cidr], { allowFail: true });
  }

  return {
    async start() {
      await cleanupLeftovers();
      await run('ip', ['route', 'add', 'unreachable', options.cidr]);
      routeInstalled = true;
    },

    async addNode(index) {
      if (index < 1 || index > 254)
        throw new LocalNodeConfigError(`node index ${index} out of 1..254`);
      const bridge = `${bridgePrefix}${index}`;
      const gatewayIp = `${a}.${b}.${index}.1`;
      await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
      await run('ip', ['-batch', '-'], {
        input: `addr add ${gatewayIp}/24 dev ${bridge}\nlink set ${bridge} up\n`,
      });
      // Forward between our bridges only; pods have no default route, so nothing goes elsewhere.
      await writeFile(`/proc/sys/net/ipv4/conf/${bridge}/forwarding`, '1');
      const net: NodeNetwork = { index, bridge, gatewayIp, podCidr: `${a}.${b}.${index}.0/24` };
      nodes.set(index, { net, used: new Set() });
      return net;
    },

    async removeNode(index) {
      const node = nodes.get(index);
      if (node === undefined) return;
      for (const s of [...sandboxes]) if (s.nodeIndex === index) await this.deleteSandbox(s);
      await run('ip', ['link', 'del', node.net.bridge], { allowFail: true });
      nodes.delete(index);
    },

    async createSandbox(nodeIndex, podKey) {
      const node = nodes.get(nodeIndex);
      if (node === undefined) throw new LocalNodeConfigError(`no local node ${nodeIndex}`);
      let host = 2;
      while (node.used.has(host) && host < 255) host++;
      if (host >= 255) throw new AddressExhaustedError(`node ${nodeIndex} has no free pod address`);
      node.used.add(host);
      const ip = `${a}.${b}.${nodeIndex}.${host}`;
      const netns = `${netnsPrefix}${podKey.replace(/[^a-zA-Z0-9_.-]/g, '_')}`.slice(0, 120);
      const hostVeth = `${vethPrefix}${++vethCounter}`;
      const sandbox: PodSandboxNetwork = { nodeIndex, netns, ip, hostVeth };
      sandboxes.add(sandbox);
      try {
        await run('ip', ['netns', 'add', netns]);
        await run('ip', ['-batch', '-'], {
          input: `link add ${hostVeth} type veth peer name eth0 netns ${netns}\nlink set ${hostVeth} master ${node.net.bridge} up\n`,
        });
        await run('ip', ['-n', netns, '-batch', '-'], {
          input: [
            'link set lo up',
            `addr add ${ip}/24 dev eth0`,
            'link set eth0 up',
            `route add ${a}.${b}.0.0/16 via ${node.net.gatewayIp}`,
            // mDNS between the containers of a pod (and pods of a node) needs a multicast route.
            'route add 224.0.0.0/4 dev eth0',
            '',
          ].join('\n'),
        });
      } catch (err) {
        await this.deleteSandbox(sandbox);
        throw err;
      }
      return sandbox;
    },

    async deleteSandbox(sandbox) {
      if (!sandboxes.delete(sandbox)) return;
      await run('ip', ['link', 'del', sandbox.hostVeth], { allowFail: true });
      if (sandbox.netns !== undefined)
        await run('ip', ['netns', 'del', sandbox.netns], { allowFail: true });
      nodes.get(sandbox.nodeIndex)?.used.delete(Number(sandbox.ip.split('.')[3]));
    },

    async stop() {
      for (const s of [...sandboxes]) await this.deleteSandbox(s);
      for (const index of [...nodes.keys()]) await this.removeNode(index);
      if (routeInstalled)
        await run('ip', ['route', 'del', 'unreachable', options.cidr], { allowFail: true });
      routeInstalled = false;
    },
  };
}

/**
 * The fallback without root: no namespaces, one loopback address per pod from
 * `127.<b>.<n>.0/24` (the same /16 number as the namespace mode would use). Pods of all nodes
 * share the host's network stack; ports are told apart by address only, and multicast (mDNS)
 * does not work on the loopback interface.
 */
export function createLoopbackNetwork(options: PodNetworkOptions): PodNetwork {
  const { b } = parseCidr16(options.cidr);
  const nodes = new Map<number, { net: NodeNetwork; used: Set<number> }>();
  const sandboxes = new Set<PodSandboxNetwork>();
  return {
    start: () => Promise.resolve(),
    addNode(index) {
      if (index < 1 || index > 254)
        throw new LocalNodeConfigError(`node index ${index} out of 1..254`);
      const net: NodeNetwork = {
        index,
        bridge: 'lo',
        gatewayIp: `127.${b}.${index}.1`,
        podCidr: `127.${b}.${index}.0/24`,
      };
      nodes.set(index, { net, used: new Set() });
      return Promise.resolve(net);
    },
    async removeNode(index) {
      for (const s of [...sandboxes]) if (s.nodeIndex === index) await this.deleteSandbox(s);
      nodes.delete(index);
    },
    createSandbox(nodeIndex) {
      const node = nodes.get(nodeIndex);
      if (node === undefined) throw new LocalNodeConfigError(`no local node ${nodeIndex}`);
      let host = 2;
      while (node.used.has(host) && host < 255) host++;
      if (host >= 255) throw new AddressExhaustedError(`node ${nodeIndex} has no free pod address`);
      node.used.add(host);
      const sandbox: PodSandboxNetwork = {
        nodeIndex,
        netns: undefined,
        ip: `127.${b}.${nodeIndex}.${host}`,
        hostVeth: '',
      };
      sandboxes.add(sandbox);
      return Promise.resolve(sandbox);
    },
    deleteSandbox(sandbox) {
      if (sandboxes.delete(sandbox))
        nodes.get(sandbox.nodeIndex)?.used.delete(Number(sandbox.ip.split('.')[3]));
      return Promise.resolve();
    },
    async stop() {
      for (const s of [...sandboxes]) await this.deleteSandbox(s);
      nodes.clear();
    },
  };
}
