// One jest run for the whole monorepo. Sources are ESM TypeScript, transformed by swc;
// Node 24 runs the same sources directly (type stripping) outside of jest.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  testMatch: [
    '<rootDir>/packages/*/test/**/*.test.ts',
    '<rootDir>/services/*/test/**/*.test.ts',
    '<rootDir>/test/**/*.test.ts',
  ],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'es6' } },
    ],
  },
  testTimeout: 60_000,
  maxWorkers: 2,
  // A worker that ran half the suite holds ~2 GiB of RSS and, with no handle left open, takes
  // longer than jest's default 500 ms to be torn down on a busy 2-core machine: jest then kills
  // it and warns of a leak that is not there. A worker that really keeps its process alive is
  // still killed and reported.
  workerGracefulExitTimeout: 5_000,
};
