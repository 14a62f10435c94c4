export { type DispatchConfig, loadConfig } from './config.ts';
export { createDispatchTools } from './dispatch-tools.ts';
export { dispatchMigrations, dispatchSchema } from './migrations.ts';
export { createDispatchServer, type DispatchServerOptions } from './server.ts';
