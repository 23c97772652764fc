// The status step's write: through the status subresource, only when the status changed, and
// retried on a conflict with the network as the API server has it now.
import {
  API_VERSION,
  KIND,
  type PeerNetworkObject,
  type PeerNetworkStatus,
} from '../api/schema.js';
import { isConflict, type KubeClient, type KubeObject } from '../kube/client.js';
import { RESOURCES } from '../kube/resources.js';
import { canonicalJson } from '../pods/pods.js';
import { StaleCacheError } from './context.js';
import type { Expectations } from './expectations.js';

/** Writes `status` unless the cache (or the last write, while the cache lags) holds it already. */
export async function writeStatus(
  kube: KubeClient,
  obj: PeerNetworkObject,
  status: PeerNetworkStatus,
  e: Expectations,
): Promise<boolean> {
  const json = canonicalJson(status);
  const rv = obj.metadata.resourceVersion ?? '';
  if (obj.status && canonicalJson(obj.status) === json) return false;
  if (e.written && e.written.from === rv && e.written.json === json) return false; // cache lag
  let current: PeerNetworkObject = obj;
  for (let attempt = 0; ; attempt++) {
    try {
      const body = {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: current.metadata,
        spec: current.spec,
        status,
      };
      await kube.updateStatus(body);
      e.written = { from: current.metadata.resourceVersion ?? '', json, phase: status.phase };
      return true;
    } catch (err) {
      if (!isConflict(err) || attempt >= 3) throw err;
      const fresh = await kube.get<PeerNetworkObject & KubeObject>(
        RESOURCES.PeerNetwork,
        obj.metadata.namespace,
        obj.metadata.name,
      );
      if (!fresh || fresh.metadata.uid !== obj.metadata.uid) return false;
      if (fresh.metadata.generation !== obj.metadata.generation)
        throw new StaleCacheError('spec changed while writing status');
      current = fresh;
    }
  }
}
