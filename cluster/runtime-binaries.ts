import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBuildScript, type EnsureBinariesOptions } from './binaries.js';

/** Paths of the node runtime built by `cluster/build-runtime.sh` (runc comes from Debian). */
export interface RuntimeBinaries {
  dir: string;
  containerd: string;
  /** `containerd-shim-runc-v2`: containerd finds it on its PATH, so put `dir` there. */
  containerdShim: string;
  ctr: string;
  /** CoreDNS with only the cluster DNS plugins (kubernetes, forward, cache, ...). */
  coredns: string;
  /** The static pause binary for the pod sandbox image. */
  pause: string;
  /** rancher's local-path-provisioner: the dynamic provisioner of the real nodes' volumes. */
  localPathProvisioner: string;
  /** MetalLB's controller: gives LoadBalancer Services addresses from a pool. */
  metallbController: string;
  /** MetalLB's speaker: answers ARP for those addresses on its node (layer 2 mode). */
  metallbSpeaker: string;
  /** MetalLB's CRDs, one YAML file. */
  metallbCrds: string;
}

/** The build script, found relative to this module (it runs from `dist/cluster/`). */
export const runtimeBuildScript = fileURLToPath(
  new URL('../../cluster/build-runtime.sh', import.meta.url),
);

/** The binaries inside a runtime build folder (no check that they exist). */
export function runtimeBinariesIn(dir: string): RuntimeBinaries {
  return {
    dir,
    containerd: join(dir, 'containerd'),
    containerdShim: join(dir, 'containerd-shim-runc-v2'),
    ctr: join(dir, 'ctr'),
    coredns: join(dir, 'coredns'),
    pause: join(dir, 'pause'),
    localPathProvisioner: join(dir, 'local-path-provisioner'),
    metallbController: join(dir, 'metallb-controller'),
    metallbSpeaker: join(dir, 'metallb-speaker'),
    metallbCrds: join(dir, 'metallb-crds.yaml'),
  };
}

/**
 * Runs the runtime build script (a no-op printing the folder when everything is cached, else
 * the Go build under its own lock) and returns the binaries. Progress lines go to `onProgress`.
 */
export async function ensureRuntimeBinaries(
  options: EnsureBinariesOptions = {},
): Promise<RuntimeBinaries> {
  const dir = await runBuildScript(runtimeBuildScript, 'the node runtime', options);
  return runtimeBinariesIn(dir);
}
