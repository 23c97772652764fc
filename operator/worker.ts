// The operator's thread (see main.ts): settings, kubeconfig, the operator, graceful stop on the
// signal main.ts forwards. process.exit here ends this thread with that code; main.ts exits with it.
import { writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { loadKubeAccess, type KubeAccess } from './kube/config.js';
import { createLogger } from './logger.js';
import { createOperator } from './operator.js';
import { SettingsError, parseSettings, type Settings } from './settings.js';

let settings: Settings;
try {
  settings = parseSettings(process.argv.slice(2), process.env);
} catch (e) {
  if (e instanceof SettingsError) {
    writeSync(2, `peernet-operator: ${e.message}\n`);
    process.exit(2);
  }
  throw e;
}

const logger = createLogger(settings.logLevel);
let access: KubeAccess;
try {
  access = loadKubeAccess(process.env);
} catch (e) {
  writeSync(2, `peernet-operator: cannot load a kubeconfig: ${(e as Error).message}\n`);
  process.exit(2);
}

const operator = createOperator({ access, logger }, settings);
await operator.start();
logger.info(
  {
    port: operator.port(),
    namespaces: settings.namespaces.length ? settings.namespaces : 'all',
    peerImage: settings.peerImage,
    leaderElect: settings.leaderElect,
    identity: settings.identity,
  },
  'peernet-operator started',
);

let exiting = false;
const shutdown = (signal: string) => {
  if (exiting) return;
  exiting = true;
  logger.info({ signal }, 'shutting down');
  const force = setTimeout(() => process.exit(1), 25_000);
  force.unref();
  void operator.stop().then(() => process.exit(0));
};
// signals reach the main thread only; it forwards them
parentPort?.on('message', (m: { signal?: string }) => {
  if (m.signal) shutdown(m.signal);
});
