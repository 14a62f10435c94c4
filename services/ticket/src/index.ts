export { canonicalJson } from './canonical-json.ts';
export { loadConfig, type TicketConfig } from './config.ts';
export { type CreatedTicket, createTicketOnce, type NewTicket } from './create-ticket-once.ts';
export { ticketMigrations, ticketSchema } from './migrations.ts';
export { createTicketServer, type TicketServerOptions } from './server.ts';
export { createTicketTools } from './ticket-tools.ts';
