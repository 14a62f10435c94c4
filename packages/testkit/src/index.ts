export { freePort } from './free-port.ts';
export { createTestDatabase, type TestDatabase } from './create-test-database.ts';
