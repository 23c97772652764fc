// `npm run operator`: the PeerNetwork operator against the cluster of KUBECONFIG (or in-cluster).
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from './logger.js';
import { createOperator } from './operator.js';
import { SettingsError, parseSettings, type Settings } from './settings.js';

let settings: Settings;
try {
  settings = parseSettings(process.argv.slice(2), process.env);
} catch (e) {
  if (e instanceof SettingsError) {
    process.stderr.write(`peernet-operator: ${e.message}\n`);
    process.exit(2);
  }
  throw e;
}

const logger = createLogger(settings.logLevel);
const kubeConfig = new KubeConfig();
try {
  kubeConfig.loadFromDefault();
  if (!kubeConfig.getCurrentCluster()) throw new Error('no current cluster (set KUBECONFIG)');
} catch (e) {
  process.stderr.write(`peernet-operator: cannot load a kubeconfig: ${(e as Error).message}\n`);
  process.exit(2);
}

const operator = await createOperator({ kubeConfig, logger }, settings);
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
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
void operator.done.then((why) => {
  if (why === 'lost') {
    logger.error('leadership lost; exiting so a fresh start campaigns again');
    void operator.stop().then(() => process.exit(1));
  }
});
