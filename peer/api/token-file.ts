// The API token of `--api-token-file`, kept current: the kubelet replaces a Secret volume's files
// (a new `..data` link) when the Secret changes, so a rotated token reaches running peers
// without a restart. The directory is watched (inotify: nothing runs while nothing changes) and
// re-read every `pollMs` as well, in case a watch event is missed. A file that becomes unreadable
// or invalid keeps the last good token, with a warning.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';

export interface TokenFile {
  /** the token now in force */
  current(): string;
  stop(): void;
}

export function watchTokenFile(
  path: string,
  initial: string,
  load: (path: string) => Promise<string | undefined>,
  log: Logger,
  pollMs = 60_000,
): TokenFile {
  let token = initial;
  let debounce: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  const reload = async (): Promise<void> => {
    try {
      const next = await load(path);
      if (next !== undefined && next !== token) {
        token = next;
        log.info({ file: path }, 'API token reloaded');
      }
    } catch (err) {
      log.warn(
        { file: path, err: (err as Error).message },
        'API token file unusable; keeping the last token',
      );
    }
  };
  try {
    watcher = watch(dirname(path), (_event, name) => {
      if (name != null && name !== basename(path) && !name.startsWith('..')) return;
      clearTimeout(debounce);
      debounce = setTimeout(() => void reload(), 100);
    });
    watcher.on('error', () => {
      watcher?.close();
      watcher = undefined;
    });
  } catch (err) {
    log.warn(
      { file: path, err: (err as Error).message },
      'cannot watch the API token file; polling it',
    );
  }
  const poll = setInterval(() => void reload(), pollMs);
  poll.unref();
  return {
    current: () => token,
    stop() {
      watcher?.close();
      clearInterval(poll);
      clearTimeout(debounce);
    },
  };
}
