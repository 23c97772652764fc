// Tests are compiled by `tsc` (npm test builds first) and run as native ES modules from dist/,
// so jest needs no transform: libp2p and client-node are ESM-only.
const common = {
  testEnvironment: 'node',
  transform: {},
  rootDir: '.',
};

/** @type {import('jest').Config} */
export default {
  // timings-reporter: per-project durations for CI; summary-reporter last (CI reads its line).
  reporters: [
    'default',
    '<rootDir>/test/timings-reporter.cjs',
    '<rootDir>/test/summary-reporter.cjs',
  ],
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: [
        '<rootDir>/dist/{common,peer,operator,plugin,cluster,scripts,bench}/**/*.test.js',
      ],
    },
    {
      ...common,
      displayName: 'peer',
      testMatch: ['<rootDir>/dist/test/peer/**/*.test.js'],
    },
    {
      ...common,
      displayName: 'cluster',
      testMatch: ['<rootDir>/dist/test/cluster/**/*.test.js'],
      // One real control plane for the whole run (test/helpers/cluster.ts).
      globalSetup: '<rootDir>/dist/test/helpers/cluster-global-setup.js',
      globalTeardown: '<rootDir>/dist/test/helpers/cluster-global-teardown.js',
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/dist/test/e2e/**/*.test.js'],
      // One real control plane for the whole run (test/helpers/cluster.ts).
      globalSetup: '<rootDir>/dist/test/helpers/cluster-global-setup.js',
      globalTeardown: '<rootDir>/dist/test/helpers/cluster-global-teardown.js',
    },
  ],
};
