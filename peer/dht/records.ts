// The records service: PUT/GET of values and PUT_PROVIDER/GET_PROVIDERS over the Kademlia DHT,
// replication to the closest peers, a republisher, and the drain that hands everything this peer
// holds to the closest other peers before it leaves. Built the js-libp2p way: components (the
// node, the store, a logger, metrics) and init options with defaults (RECORDS_DEFAULTS).
//
// Where each part lives: the profiles in tuned.ts (ours, the default) and stock.ts (kadDHT()
// unchanged, for comparison); what both share in service.ts and core.ts; replication in
// replicate.ts; the drain's handoff in handoff.ts; the republisher in republish.ts; lookups in
// lookup.ts; the record format in keys.ts; the store and its quotas in store.ts.
import type { RecordsComponents, RecordsInit } from './core.js';
import type { RecordsService } from './service.js';
import { StockRecords } from './stock.js';
import { TunedRecords } from './tuned.js';

export { DHT_PROFILES, RECORDS_DEFAULTS, type DhtProfile } from './defaults.js';
export {
  DrainingError,
  type GetResult,
  type HeldRecord,
  type ProviderInfo,
  type PutResult,
  type RecordsComponents,
  type RecordsInit,
} from './core.js';
export { handoffProtocol } from './handoff.js';
export { replicateProtocol } from './replicate.js';
export type { RecordsService } from './service.js';

export function createRecordsService(
  components: RecordsComponents,
  init: RecordsInit,
): RecordsService {
  return init.profile === 'stock'
    ? new StockRecords(components, init)
    : new TunedRecords(components, init);
}
