export { canonicalJson } from './canonical-json.ts';
export { loadConfig, type TicketConfig } from './config.ts';
export {
  type CreatedTicket,
  type CreateTicketOnceOptions,
  createTicketOnce,
  type NewTicket,
} from './create-ticket-once.ts';
export { ticketMigrations, ticketSchema } from './migrations.ts';
export {
  createOrderLookup,
  type OrderDetail,
  type OrderLookup,
  type OrderLookupContext,
  type OrderLookupOptions,
  type ToolServiceClient,
} from './order-lookup.ts';
export { createTicketServer, type TicketServerOptions } from './server.ts';
export { assertTicketAllowed } from './ticket-rules.ts';
export { createTicketTools, type TicketToolsOptions } from './ticket-tools.ts';
