/** Shared by both projects: swc for speed (types are checked by `tsc -b` in npm test). */
const project = {
  testEnvironment: 'node',
  // The SDK is ESM source: its relative imports name the .js file that tsc will emit.
  // The CLI's sources import the SDK by its package name: the SDK's sources stand in for it.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1', '^@triggers-api/sdk$': '<rootDir>/sdk/src/index.ts' },
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'commonjs' },
      },
    ],
  },
};

/** @type {import('jest').Config} */
module.exports = {
  // A real DynamoDB (DynamoDB Local, needs Java 17) in TRIGGERS_DYNAMODB_ENDPOINT for every run.
  globalSetup: '<rootDir>/tests/dynamodb-global-setup.ts',
  globalTeardown: '<rootDir>/tests/dynamodb-global-teardown.ts',
  reporters: ['default', '<rootDir>/tests/summary-reporter.js'],
  // Two cores under load: generous per-test time, and a cap on parallel workers.
  testTimeout: 30_000,
  maxWorkers: 2,
  projects: [
    // Everything, with the API on the embedded SQLite store.
    { ...project, displayName: 'sqlite', roots: ['<rootDir>/tests'], testMatch: ['**/*.test.ts'] },
    // The HTTP API suite and webhook delivery once more, on DynamoDB.
    {
      ...project,
      displayName: 'api-on-dynamodb',
      roots: ['<rootDir>/tests/api', '<rootDir>/tests/webhooks'],
      testMatch: ['**/*.test.ts'],
      setupFiles: ['<rootDir>/tests/use-dynamodb-store.ts'],
    },
  ],
};
