export { type InventoryConfig, loadConfig } from './config.ts';
export { createInventoryTools } from './inventory-tools.ts';
export { inventoryMigrations, inventorySchema } from './migrations.ts';
export { createInventoryServer, type InventoryServerOptions } from './server.ts';
