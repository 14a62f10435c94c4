export { loadConfig, type OrderConfig } from './config.ts';
export { createExportOrderReport, type ExportOrderReportOptions } from './export-order-report.ts';
export { orderMigrations, orderSchema } from './migrations.ts';
export { createOrderTools, type OrderToolsOptions } from './order-tools.ts';
export { createOrderServer, type OrderServerOptions } from './server.ts';
