export {
  type JwksSource,
  type MeshAuthSettings,
  meshAuthEnv,
  meshAuthSettings,
  type SigningMeshAuth,
  type VerifyingMeshAuth,
} from './mesh-auth-env.ts';
export {
  addressList,
  databasePoolSize,
  databasePreparedStatements,
  discoveryEnv,
  discoveryKind,
  discoverySettings,
  host,
  hostAddress,
  logLevel,
  parseEnv,
  port,
  postgresUrl,
  urlList,
} from './parse-env.ts';
export { readYamlFile, type YamlFile, type YamlFileIssue, type YamlPath } from './read-yaml-file.ts';
export { metricsPort, type TelemetryEnv, telemetryEnv, telemetrySettings } from './telemetry-env.ts';
export { type TlsEnv, type TlsSettings, tlsEnv, tlsSettings } from './tls-env.ts';
export { type ToolServiceSettings, toolServiceEnv, toolServiceSettings } from './tool-service-env.ts';
