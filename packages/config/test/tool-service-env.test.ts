// The variables every tool service reads: defaults, and a bad value named in the error.
import { z } from 'zod';
import { parseEnv, toolServiceEnv, toolServiceSettings } from '../src/index.ts';

const schema = z.object(toolServiceEnv({ port: 50061, metricsPort: 9461 }));
// Every tool service must be told the mesh's public keys; the file is only named here.
const settings = (env: Record<string, string>) =>
  toolServiceSettings(parseEnv(schema, { TOOLMESH_MESH_JWKS_FILE: 'mesh-jwks.json', ...env }, 'order'));

test('DATABASE_POOL_SIZE sizes the pool of each replica: default 10, a positive whole number', () => {
  expect(settings({}).databasePoolSize).toBe(10);
  expect(settings({ DATABASE_POOL_SIZE: '25' }).databasePoolSize).toBe(25);
  // An empty variable (as compose writes an unset one) is the default.
  expect(settings({ DATABASE_POOL_SIZE: '' }).databasePoolSize).toBe(10);
  for (const bad of ['0', '-3', '2.5', 'many']) {
    expect(() => settings({ DATABASE_POOL_SIZE: bad })).toThrow(/DATABASE_POOL_SIZE/);
  }
});

test('DATABASE_PREPARED_STATEMENTS: on unless set to off (a pooler that cannot keep prepared statements)', () => {
  expect(settings({}).databasePreparedStatements).toBe(true);
  expect(settings({ DATABASE_PREPARED_STATEMENTS: '' }).databasePreparedStatements).toBe(true);
  expect(settings({ DATABASE_PREPARED_STATEMENTS: 'on' }).databasePreparedStatements).toBe(true);
  expect(settings({ DATABASE_PREPARED_STATEMENTS: 'off' }).databasePreparedStatements).toBe(false);
  for (const bad of ['no', 'false', '0']) {
    expect(() => settings({ DATABASE_PREPARED_STATEMENTS: bad })).toThrow(/DATABASE_PREPARED_STATEMENTS/);
  }
});
