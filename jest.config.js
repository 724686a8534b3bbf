/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'commonjs' },
      },
    ],
  },
  // Two cores under load: generous per-test time, and a cap on parallel workers.
  testTimeout: 30_000,
  reporters: ['default', '<rootDir>/tests/summary-reporter.js'],
  maxWorkers: 2,
};
