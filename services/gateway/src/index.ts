export { type Authenticate, createApiKeyAuthenticator } from './authenticate.ts';
export { type ApiKeys, type Config, devApiKeys, loadConfig } from './config.ts';
export { createForwardAsCaller, type ForwardAsCaller } from './forward-as-caller.ts';
export { createGatewayServer, type GatewayServerOptions } from './server.ts';
