export { loadConfig, type OrderConfig } from './config.ts';
export { createExportOrderReport } from './export-order-report.ts';
export { orderMigrations, orderSchema } from './migrations.ts';
export { createOrderTools } from './order-tools.ts';
export { createOrderServer, type OrderServerOptions } from './server.ts';
