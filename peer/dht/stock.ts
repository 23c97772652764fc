// Profile `stock`: kadDHT()'s own put/get/provide/findProviders, unchanged, so the tuned profile
// can be measured against it side by side (`npm run bench -- peer-dht`). The drain, the
// republisher and the stream protocols are the shared ones (service.ts).
import { MessageType } from '@libp2p/kad-dht';
import {
  DrainingError,
  ProviderSet,
  type GetResult,
  type ProviderInfo,
  type PutResult,
} from './core.js';
import { providerCid, recordKey, sealValue, validateKey, validateValue } from './keys.js';
import { BaseRecords } from './service.js';

export class StockRecords extends BaseRecords {
  async put(key: string, value: Uint8Array): Promise<PutResult> {
    validateKey(key);
    validateValue(value);
    const core = this.core;
    if (core.draining) throw new DrainingError('this peer is draining and takes no writes');
    return core.timed('put', async () => {
      const dhtKey = recordKey(key);
      const sealed = sealValue(value, core.stamp(await core.readLocal(dhtKey)));
      let stored = 0;
      let replicas = 0;
      try {
        for await (const e of core.node.services.dht.put(dhtKey, sealed, {
          signal: core.opSignal(),
        })) {
          if (e.name === 'PEER_RESPONSE' && e.messageType === MessageType.PUT_VALUE) stored++;
          if (e.name === 'SEND_QUERY' && e.messageType === MessageType.PUT_VALUE) replicas++;
        }
      } catch (err) {
        if ((err as Error).name === 'StaleRecordError')
          return { replicas: 0, stored: 0, superseded: true };
        throw err;
      }
      return { replicas, stored };
    });
  }

  /** kadDHT()'s get: the value it ends with; it has no read quorum */
  async get(key: string): Promise<GetResult | undefined> {
    validateKey(key);
    const core = this.core;
    return core.timed('get', async () => {
      let best: { sealed: Uint8Array; from: string } | undefined;
      try {
        for await (const e of core.node.services.dht.get(recordKey(key), {
          signal: core.opSignal(),
        })) {
          if (e.name === 'VALUE') best = { sealed: e.value, from: e.from.toString() };
        }
      } catch (err) {
        if ((err as Error).name !== 'NotFoundError') throw err;
      }
      return best == null ? undefined : core.result(best.sealed, best.from);
    });
  }

  async provide(key: string): Promise<PutResult> {
    validateKey(key);
    const core = this.core;
    if (core.draining) throw new DrainingError('this peer is draining and takes no writes');
    return core.timed('provide', async () => {
      const cid = await providerCid(key);
      core.provided.set(cid.toString(), { cid, at: Date.now() });
      let stored = 0;
      let replicas = 0;
      for await (const e of core.node.services.dht.provide(cid, { signal: core.opSignal() })) {
        if (e.name === 'SEND_QUERY' && e.messageType === MessageType.ADD_PROVIDER) replicas++;
        if (e.name === 'PEER_RESPONSE' && e.messageType === MessageType.ADD_PROVIDER) stored++;
      }
      return { replicas, stored };
    });
  }

  /** kadDHT()'s findProviders, up to the first answer that names any */
  async findProviders(key: string): Promise<ProviderInfo[]> {
    validateKey(key);
    const core = this.core;
    return core.timed('find_providers', async () => {
      const cid = await providerCid(key);
      const found = new ProviderSet();
      for await (const e of core.node.services.dht.findProviders(cid, {
        signal: core.opSignal(),
      })) {
        if (e.name !== 'PROVIDER') continue;
        for (const p of e.providers) found.add(p.id, p.multiaddrs);
        if (found.size > 0) break;
      }
      return found.list();
    });
  }
}
