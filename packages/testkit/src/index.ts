export { connectHangingRedis, type HangingRedis } from './connect-hanging-redis.ts';
export { connectTestRedis } from './connect-test-redis.ts';
export { type Barrier, type BarrierOptions, createBarrier } from './create-barrier.ts';
export { createFigureLog, type FigureLog } from './create-figure-log.ts';
export { createTestDatabase, type TestDatabase } from './create-test-database.ts';
export { createTestMeshKeys, type TestMeshKeys, type ToolCallScope } from './create-test-mesh-keys.ts';
export { createTestPki, type TestCertificateFiles, type TestPki } from './create-test-pki.ts';
export { deadRedisClient } from './dead-redis-client.ts';
export { deleteRedisKeys } from './delete-redis-keys.ts';
export { freePort } from './free-port.ts';
export { rpcCode } from './rpc-code.ts';
export {
  type CannedAnswer,
  type CannedEvent,
  type CannedModel,
  type CannedRequest,
  startCannedModel,
} from './start-canned-model.ts';
export { type DelayProxy, startDelayProxy } from './start-delay-proxy.ts';
export { startEtcd, type TestEtcd } from './start-etcd.ts';
export { type WaitForOptions, waitFor } from './wait-for.ts';
