// Profile `stock`: kadDHT()'s own put/get/provide/findProviders, unchanged, so the tuned profile
// can be measured against it side by side (`npm run bench -- peer-dht`). The checks, the drain,
// the republisher and the stream protocols are the shared ones (service.ts).
import { MessageType } from '@libp2p/kad-dht';
import type { CID } from 'multiformats/cid';
import type { GetResult, ProviderSet, PutResult } from './core.js';
import { BaseRecords } from './service.js';

export class StockRecords extends BaseRecords {
  protected async putSealed(dhtKey: Uint8Array, sealed: Uint8Array): Promise<PutResult> {
    let stored = 0;
    let replicas = 0;
    try {
      for await (const e of this.core.node.services.dht.put(dhtKey, sealed, {
        signal: this.core.opSignal(),
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
  }

  /** kadDHT()'s get: the value it ends with; it has no read quorum */
  protected async getValue(dhtKey: Uint8Array): Promise<GetResult | undefined> {
    let best: { sealed: Uint8Array; from: string } | undefined;
    try {
      for await (const e of this.core.node.services.dht.get(dhtKey, {
        signal: this.core.opSignal(),
      })) {
        if (e.name === 'VALUE') best = { sealed: e.value, from: e.from.toString() };
      }
    } catch (err) {
      if ((err as Error).name !== 'NotFoundError') throw err;
    }
    return best == null ? undefined : this.core.result(best.sealed, best.from);
  }

  protected async provideCid(cid: CID): Promise<PutResult> {
    this.core.provided.set(cid.toString(), { cid, at: Date.now() });
    let stored = 0;
    let replicas = 0;
    for await (const e of this.core.node.services.dht.provide(cid, {
      signal: this.core.opSignal(),
    })) {
      if (e.name === 'SEND_QUERY' && e.messageType === MessageType.ADD_PROVIDER) replicas++;
      if (e.name === 'PEER_RESPONSE' && e.messageType === MessageType.ADD_PROVIDER) stored++;
    }
    return { replicas, stored };
  }

  /** kadDHT()'s findProviders, up to the first answer that names any */
  protected async findProvidersOf(cid: CID, found: ProviderSet): Promise<void> {
    for await (const e of this.core.node.services.dht.findProviders(cid, {
      signal: this.core.opSignal(),
    })) {
      if (e.name !== 'PROVIDER') continue;
      for (const p of e.providers) found.add(p.id, p.multiaddrs);
      if (found.size > 0) break;
    }
  }
}
