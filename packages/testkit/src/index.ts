export { createTestDatabase, type TestDatabase } from './create-test-database.ts';
export { freePort } from './free-port.ts';
