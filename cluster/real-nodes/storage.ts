// Volumes on the real nodes: rancher's local-path-provisioner (built from its Go module by
// build-runtime.sh) runs on the host beside the control plane with the admin kubeconfig and binds
// a PersistentVolume (a folder, pinned to the node by node affinity) to every claim of the
// StorageClass `local-path`, the cluster's default class. It makes and removes the folders with
// helper pods on the node; their image is Debian's static busybox (busybox-static, the shell and
// tools the provisioner's setup and teardown scripts use), made here with buildah like the pause
// image. The nodes share the host's file system, so one folder holds every node's volumes.
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { run } from '../exec.js';
import type { CommandSpec } from '../process.js';
import { ensureScratchImage } from './scratch-image.js';

/** The image of the provisioner's helper pods (never pulled: imported into every node). */
export const VOLUME_HELPER_IMAGE = 'peernet.local/volume-helper:busybox';
export const STORAGE_NAMESPACE = 'local-path-storage';
export const STORAGE_CLASS = 'local-path';
export const PROVISIONER_NAME = 'rancher.io/local-path';
const SERVICE_ACCOUNT = 'local-path-provisioner-service-account';
const CONFIG_MAP = 'local-path-config';
/** Debian's busybox-static package puts its one binary here. */
export const BUSYBOX = '/bin/busybox';

/**
 * Returns the docker-archive of the helper image (busybox at /bin/busybox, a link per applet
 * in /bin), building it once per busybox binary.
 */
export async function ensureVolumeHelperImage(busybox = BUSYBOX): Promise<string> {
  if (!existsSync(busybox))
    throw new Error(
      `${busybox} is missing: install Debian's busybox-static (cluster/install-host-packages.sh)`,
    );
  const applets = (await run(busybox, ['--list']))
    .split('\n')
    .map((a) => a.trim())
    .filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox');
  return ensureScratchImage({
    image: VOLUME_HELPER_IMAGE,
    prefix: 'volume-helper',
    inputs: [busybox],
    // busybox at /bin/busybox, a link per applet in /bin
    fill: (stage) => {
      mkdirSync(join(stage, 'bin'));
      mkdirSync(join(stage, 'tmp'), { mode: 0o1777 });
      copyFileSync(busybox, join(stage, 'bin', 'busybox'));
      chmodSync(join(stage, 'bin', 'busybox'), 0o755);
      for (const a of applets) symlinkSync('busybox', join(stage, 'bin', a));
    },
    config: ['--cmd', '["/bin/sh"]'],
  });
}

/**
 * The provisioner's objects: its namespace and ServiceAccount (the helper pods run under it),
 * its ConfigMap (where volumes go; the setup and teardown scripts; the helper pod) and the
 * default StorageClass. Volumes are bound once a pod is scheduled (WaitForFirstConsumer), so a
 * volume is made on the node the scheduler chose, and deleted with its claim.
 */
export function storageObjects(volumesDir: string): string {
  const config = provisionerConfig(volumesDir);
  const helperPod = [
    'apiVersion: v1',
    'kind: Pod',
    'metadata:',
    '  name: helper-pod',
    'spec:',
    '  automountServiceAccountToken: false',
    '  containers:',
    '  - name: helper-pod',
    `    image: ${VOLUME_HELPER_IMAGE}`,
    '    imagePullPolicy: Never',
  ].join('\n');
  const indent = (text: string) =>
    text
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n');
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${STORAGE_NAMESPACE}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: ${SERVICE_ACCOUNT}
  namespace: ${STORAGE_NAMESPACE}
automountServiceAccountToken: false
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ${CONFIG_MAP}
  namespace: ${STORAGE_NAMESPACE}
data:
  config.json: |-
${indent(JSON.stringify(config, null, 2))}
  setup: |-
    #!/bin/sh
    set -eu
    mkdir -m 0777 -p "$VOL_DIR"
  teardown: |-
    #!/bin/sh
    set -eu
    rm -rf "$VOL_DIR"
  helperPod.yaml: |-
${indent(helperPod)}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: ${STORAGE_CLASS}
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: ${PROVISIONER_NAME}
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
`;
}

/** The provisioner's command line: out of the cluster, with the admin kubeconfig. Pure. */
export function provisionerCommand(
  binary: string,
  kubeconfig: string,
  configFile: string,
  logPath: string,
): CommandSpec {
  return {
    name: 'local-path-provisioner',
    command: binary,
    args: [
      '--debug',
      'start',
      `--kubeconfig=${kubeconfig}`,
      `--config=${configFile}`,
      `--namespace=${STORAGE_NAMESPACE}`,
      `--provisioner-name=${PROVISIONER_NAME}`,
      `--service-account-name=${SERVICE_ACCOUNT}`,
      `--configmap-name=${CONFIG_MAP}`,
      `--helper-image=${VOLUME_HELPER_IMAGE}`,
    ],
    logPath,
  };
}

/** Writes the provisioner's config file (it also reads the helper pod from the ConfigMap). */
export function writeProvisionerConfig(dir: string, volumesDir: string): string {
  mkdirSync(dir, { recursive: true });
  mkdirSync(volumesDir, { recursive: true });
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(provisionerConfig(volumesDir)));
  return file;
}

/** Every node's volumes in one folder (the real nodes share the host's file system). */
const provisionerConfig = (volumesDir: string) => ({
  nodePathMap: [{ node: 'DEFAULT_PATH_FOR_NON_LISTED_NODES', paths: [volumesDir] }],
});
