/**
 * `npm run test:quick`, the inner loop: the unit tests and the API suite on SQLite only. No
 * Java (DynamoDB Local is not started), no kill -9, no tmpfs, no spawned servers or CLIs, no
 * browser, no bundling, no packing; about 2–3 minutes on 2 cores. `npm test` stays the full gate.
 */
const full = require('./jest.config');

const sqlite = full.projects.find((project) => project.displayName === 'sqlite');

/** @type {import('jest').Config} */
module.exports = {
  reporters: full.reporters,
  testTimeout: full.testTimeout,
  maxWorkers: full.maxWorkers,
  projects: [
    {
      ...sqlite,
      displayName: 'quick',
      testPathIgnorePatterns: [
        '/node_modules/',
        // Real processes: killed, out of disk, without DynamoDB; the keys and triggers CLIs (and
        // the packed CLI), a listening server.
        '<rootDir>/tests/reliability/',
        '<rootDir>/tests/cli/',
        '<rootDir>/tests/server/http-process.test.ts',
        '<rootDir>/tests/server/log-format.test.ts',
        '<rootDir>/tests/sdk/e2e.test.ts',
        // The Zapier integration against a listening server (and a webhook receiver).
        '<rootDir>/tests/zapier/',
        // A worker process killed with kill -9.
        '<rootDir>/tests/sdk/consume-e2e.test.ts',
        // DynamoDB Local (Java), the esbuild bundle, CDK synthesis, npm pack.
        '<rootDir>/tests/store/dynamodb',
        '<rootDir>/tests/e2e/readme-dynamodb',
        '<rootDir>/tests/lambda/',
        '<rootDir>/tests/infra/',
        '<rootDir>/tests/sdk/package.test.ts',
        // /docs in a real browser (Chromium).
        '<rootDir>/tests/e2e/docs-browser.test.ts',
      ],
    },
  ],
};
