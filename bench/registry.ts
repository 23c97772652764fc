// Every benchmark `npm run bench` knows. To add one: write `bench/<name>.ts` exporting a
// `Benchmark` (see benchmark.ts) and list it here.
import type { Benchmark } from './benchmark.js';
import { peerDht } from './peer-dht.js';

export const benchmarks: Benchmark[] = [peerDht];
