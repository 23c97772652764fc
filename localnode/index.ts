export {
  startLocalNodes,
  loadKubeConfig,
  NODE_KIND_LABEL,
  type LocalNodes,
  type LocalNodesOptions,
} from './runtime.js';
export { PEER_IMAGE } from './podspec.js';
export { LocalNodeCommandError, LocalNodeConfigError, AddressExhaustedError } from './errors.js';
