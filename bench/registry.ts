// Every benchmark `npm run bench` knows. To add one: write `bench/<name>.ts` exporting a
// `Benchmark` (see benchmark.ts) and list it here.
import type { Benchmark } from './benchmark.js';
import { clusterScale } from './cluster-scale.js';
import { peerDht } from './peer-dht.js';
import { e2eSpread } from './e2e-spread.js';
import { abuse } from './abuse.js';
import { durability } from './durability.js';

export const benchmarks: Benchmark[] = [clusterScale, peerDht, e2eSpread, abuse, durability];
