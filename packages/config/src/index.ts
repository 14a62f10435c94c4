export {
  addressList,
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
export { metricsPort, type TelemetryEnv, telemetryEnv, telemetrySettings } from './telemetry-env.ts';
export { type ToolServiceSettings, toolServiceEnv, toolServiceSettings } from './tool-service-env.ts';
