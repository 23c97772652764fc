import { describe, expect, test } from '@jest/globals';
import type { V1ConfigMap, V1Pod, V1Secret } from '@kubernetes/client-node';
import { loopbackCommand, loopbackHostsPreload, mountScript } from './container.js';
import {
  containerEnv,
  expand,
  MissingReferenceError,
  peerArgs,
  unsupportedReason,
} from './podspec.js';

const pod: V1Pod = {
  metadata: { name: 'net-0', namespace: 'ns1', uid: 'u', labels: { app: 'x' } },
  spec: { nodeName: 'local-1', containers: [] },
};
const lookup = {
  secret: (_ns: string, name: string): V1Secret | undefined =>
    name === 's' ? { data: { k: Buffer.from('secret!').toString('base64') } } : undefined,
  configMap: (_ns: string, name: string): V1ConfigMap | undefined =>
    name === 'c' ? { data: { A: '1', B: '2' } } : undefined,
};

describe('which containers run', () => {
  test.each([
    ['peernet/peer:0.1.0', true],
    ['peernet/peer', true],
    ['registry.example.com/team/peernet/peer:dev', true],
    ['nginx', false],
    ['peernet/peerx:1', false],
  ])('%s', (image, ok) => {
    const why = unsupportedReason({ name: 'c', image });
    expect(why === undefined).toBe(ok);
    if (!ok) expect(why?.reason).toBe('ErrImageNeverPull');
  });
  test('a command other than the peer entrypoint is refused', () => {
    expect(unsupportedReason({ name: 'c', image: 'peernet/peer:1', command: ['sh'] })?.reason).toBe(
      'CreateContainerError',
    );
  });
});

describe('environment', () => {
  test('envFrom, literal values with $(VAR), field, secret and configmap refs', () => {
    const env = containerEnv(
      pod,
      {
        name: 'c',
        envFrom: [{ configMapRef: { name: 'c' }, prefix: 'CM_' }],
        env: [
          { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'URL', value: 'http://$(IP):5001 $$(IP) $(NOPE)' },
          { name: 'S', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
          { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        ],
      },
      { podIp: '10.213.1.2', hostIp: '10.213.1.1' },
      lookup,
    );
    expect(env).toMatchObject({
      CM_A: '1',
      CM_B: '2',
      IP: '10.213.1.2',
      URL: 'http://10.213.1.2:5001 $(IP) $(NOPE)',
      S: 'secret!',
      NODE: 'local-1',
      APP: 'x',
      HOSTNAME: 'net-0',
    });
  });
  test('a missing required reference is an error by name; optional ones are skipped', () => {
    const missing = (): unknown =>
      containerEnv(
        pod,
        {
          name: 'c',
          env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'nope', key: 'k' } } }],
        },
        { podIp: '', hostIp: '' },
        lookup,
      );
    expect(missing).toThrow(MissingReferenceError);
    const env = containerEnv(
      pod,
      {
        name: 'c',
        env: [
          { name: 'X', valueFrom: { secretKeyRef: { name: 'nope', key: 'k', optional: true } } },
        ],
      },
      { podIp: '', hostIp: '' },
      lookup,
    );
    expect(env.X).toBeUndefined();
  });
  test('args follow the entrypoint and expand variables', () => {
    expect(
      peerArgs(
        { name: 'c', command: ['peernet-peer', 'keygen'], args: ['--out', '$(D)/k'] },
        { D: '/tmp' },
      ),
    ).toEqual(['keygen', '--out', '/tmp/k']);
    expect(expand('$(A)$(B)', { A: 'x' })).toBe('x$(B)');
  });
});

describe('mount script', () => {
  test('overlays missing ancestors, binds volumes, hides its own state dir last, drops to the user', () => {
    const exists = (p: string): boolean =>
      ['/', '/etc', '/var', '/var/run', '/tmp', '/tmp/state'].includes(p) ||
      p.startsWith('/tmp/state/');
    const script = mountScript(
      {
        netns: 'ns',
        podIp: '10.213.1.2',
        mounts: [
          { source: '/tmp/state/pod/volumes/tmp', target: '/tmp', readOnly: false },
          {
            source: '/tmp/state/pod/volumes/keys',
            target: '/var/run/peernet/keys',
            readOnly: true,
          },
          {
            source: '/tmp/state/pod/volumes/bootstrap',
            target: '/etc/peernet/bootstrap',
            readOnly: true,
          },
        ],
        hostsFile: '/tmp/state/pod/hosts',
        scratchDir: '/tmp/state/pod/containers/c',
        env: {},
        uid: 10001,
        argv: ['node', 'peer.js'],
        logFile: '/dev/null',
      },
      exists,
    );
    const lines = script.split('\n');
    const idx = (s: string): number => lines.findIndex((l) => l.includes(s));
    expect(
      lines.filter((l) => l.startsWith('mount -t overlay')).map((l) => l.split(' ').pop()),
    ).toEqual(["'/etc'", "'/var/run'"]);
    expect(idx("mount --bind '/tmp/state/pod/hosts' /etc/hosts")).toBeLessThan(
      idx("mount --bind '/tmp/state/pod/volumes/tmp' '/tmp'"),
    );
    expect(idx("mount --bind '/tmp/state/pod/volumes/keys'")).toBeLessThan(
      idx("mount --bind '/tmp/state/pod/volumes/tmp' '/tmp'"),
    );
    expect(script).toContain("mount -o remount,bind,ro '/var/run/peernet/keys'");
    expect(lines.at(-1)).toBe('exec setpriv --reuid 10001 --regid 10001 --clear-groups -- "$@"');
  });
});

test('a program under a mount path is held open and bound back after the mounts', () => {
  const script = mountScript(
    {
      netns: 'ns',
      podIp: '10.213.1.2',
      mounts: [{ source: '/tmp/ci/.state/pod/volumes/tmp', target: '/tmp', readOnly: false }],
      hostsFile: '/tmp/ci/.state/pod/hosts',
      scratchDir: '/tmp/ci/.state/pod/c',
      env: {},
      argv: [
        '/tmp/ci/node_modules/node/bin/node',
        '/tmp/ci/dist/peer/cli/peernet-peer.js',
        '--api',
        '0.0.0.0:5001',
      ],
      logFile: '/dev/null',
    },
    () => true,
  );
  const lines = script.split('\n');
  expect(lines[1]).toBe("exec 3<'/tmp/ci'");
  const tmp = lines.indexOf("mount --bind '/tmp/ci/.state/pod/volumes/tmp' '/tmp'");
  const back = lines.indexOf("mount --no-canonicalize --bind /proc/self/fd/3 '/tmp/ci'");
  expect(tmp).toBeGreaterThan(0);
  expect(back).toBeGreaterThan(tmp);
  expect(lines.at(-1)).toBe('exec "$@"');
});

describe('loopback fallback command', () => {
  test('binds to the pod address, rewrites mount paths, preloads the hosts resolver', () => {
    const { argv, env } = loopbackCommand({
      netns: undefined,
      podIp: '127.213.1.2',
      mounts: [
        { source: '/s/pod/volumes/keys', target: '/var/run/peernet/keys', readOnly: true },
        { source: '/s/pod/volumes/bootstrap', target: '/etc/peernet/bootstrap', readOnly: true },
      ],
      hostsFile: '/s/pod/hosts',
      scratchDir: '/s/pod/c',
      env: { PEERNET_DATA_DIR: '/var/run/peernet/keys/x' },
      argv: [
        'node',
        'peer.js',
        '--listen',
        '/ip4/0.0.0.0/tcp/4001',
        '--api',
        '0.0.0.0:5001',
        '--key-file',
        '/var/run/peernet/keys/a.key',
        '--bootstrap-file=/etc/peernet/bootstrap/bootstrap.txt',
      ],
      logFile: '/dev/null',
    });
    expect(argv).toEqual([
      'node',
      '--import',
      loopbackHostsPreload,
      'peer.js',
      '--listen',
      '/ip4/127.213.1.2/tcp/4001',
      '--api',
      '127.213.1.2:5001',
      '--key-file',
      '/s/pod/volumes/keys/a.key',
      '--bootstrap-file=/s/pod/volumes/bootstrap/bootstrap.txt',
    ]);
    expect(env).toEqual({
      PEERNET_DATA_DIR: '/s/pod/volumes/keys/x',
      PEERNET_LOCALNODE_HOSTS: '/s/pod/hosts',
    });
  });
  test('never rewrites the peer program itself, even under a mount path (a checkout in /tmp)', () => {
    const { argv } = loopbackCommand({
      netns: undefined,
      podIp: '127.213.1.2',
      mounts: [{ source: '/s/pod/volumes/tmp', target: '/tmp', readOnly: false }],
      hostsFile: '/s/pod/hosts',
      scratchDir: '/s/pod/c',
      env: {},
      argv: ['node', '/tmp/ci/dist/peer/cli/peernet-peer.js', '--data-dir', '/tmp/data'],
      logFile: '/dev/null',
    });
    expect(argv).toEqual([
      'node',
      '--import',
      loopbackHostsPreload,
      '/tmp/ci/dist/peer/cli/peernet-peer.js',
      '--data-dir',
      '/s/pod/volumes/tmp/data',
    ]);
  });
});
