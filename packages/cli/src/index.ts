export type { CliContext, CliStreams, OnInterrupt } from './cli-context.ts';
export { exitCode } from './cli-context.ts';
export {
  createGatewayTransport,
  type GatewayTransportOptions,
  type Protocol,
} from './create-gateway-transport.ts';
export { describeError, type ErrorDescription, grpcCodeName } from './describe-error.ts';
export { type GatewayAddress, parseGatewayAddress, plaintextWarning } from './gateway-address.ts';
export { printable, printableJson, printableLine } from './printable.ts';
export { type RunCliOptions, runCli } from './run-cli.ts';
