// The pod sandbox ("pause") image: no registry is reachable, so it is made from our own static
// pause binary (cluster/pause) and kept as an archive keyed by the binary's hash.
import { chmodSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { PAUSE_IMAGE } from './configs.js';
import { ensureScratchImage } from './scratch-image.js';

/** Returns the docker-archive of the pause image, building it once per pause binary. */
export function ensurePauseImage(pauseBinary: string): Promise<string> {
  return ensureScratchImage({
    image: PAUSE_IMAGE,
    prefix: 'pause',
    inputs: [pauseBinary],
    fill: (stage) => {
      copyFileSync(pauseBinary, join(stage, 'pause'));
      chmodSync(join(stage, 'pause'), 0o755);
    },
    config: ['--entrypoint', '["/pause"]', '--user', '65535:65535'],
  });
}
