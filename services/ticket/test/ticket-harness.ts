import { type Database, migrate, openDatabase } from '@toolmesh/db';
import { createOrderServer, orderMigrations, orderSchema } from '@toolmesh/order-service';
import { type Principal, ToolService } from '@toolmesh/proto';
import { createGrpcClient, type Server } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import {
  createTestDatabase,
  createTestMeshKeys,
  type TestDatabase,
  type TestMeshKeys,
} from '@toolmesh/testkit';
import {
  createOrderLookup,
  createTicketServer,
  type OrderLookup,
  ticketMigrations,
  ticketSchema,
} from '../src/index.ts';

/** A principal as a test writes it. */
export type PrincipalInit = Omit<Principal, '$typeName'>;

export const logger = createLogger({ service: 'ticket-test', level: 'silent' });
const allPermissions = ['order:read', 'inventory:read', 'dispatch:read', 'ticket:read', 'ticket:write'];
export const u1001: PrincipalInit = { userId: 'u_1001', tenantId: 't_demo', permissions: allPermissions };
export const u2002: PrincipalInit = { ...u1001, userId: 'u_2002' };
/** The tool create_ticket reads orders with, by the credential the orchestrator delegates. */
export const orderDetailTool = 'get_order_detail';

/** One call of a ticket tool, signed as the orchestrator signs it. */
export interface Call {
  tool?: string;
  args: unknown;
  key?: string;
  principal?: PrincipalInit;
  /** The call's id; default a new one per call, as the orchestrator gives. */
  callId?: string;
  /**
   * Whether the call brings the orchestrator's delegation to read the order as the same user
   * (for this call id); default: for create_ticket, which declares it.
   */
  delegate?: boolean;
}

/** A ticket server listening on a free port, with a client on it. */
export interface TicketService {
  server: Server;
  client: ToolClient;
  invoke(call: Call): Promise<Awaited<ReturnType<ToolClient['invokeTool']>>['outcome']>;
  resultJson(call: Call): Promise<string>;
  error(call: Call): Promise<{ code: number; message: string; retryable: boolean }>;
}

type ToolClient = ReturnType<typeof createGrpcClient<typeof ToolService>>;

/** A real order service and a ticket service on one test database (one schema each). */
export interface Harness {
  db: Database;
  /** The mesh's keys both services trust; the test signs as the orchestrator with them. */
  meshKeys: TestMeshKeys;
  /** Rows in tickets.tickets, of every user. */
  ticketCount(): Promise<number>;
  orderServer: Server;
  orderAddress: string;
  /** The ticket service whose lookup asks orderServer. */
  ticket: TicketService;
  /** How many order lookups `ticket` has made so far. */
  lookupCalls(): number;
  /** Starts another ticket service on the same database with the lookup given. */
  startTicketService(orderLookup: OrderLookup): Promise<TicketService>;
  /** Starts another order service on the same database; answers its address. */
  startOrderService(): Promise<{ server: Server; address: string }>;
  stop(): Promise<void>;
}

/** Starts the harness; call stop() in afterAll. */
export async function startHarness(): Promise<Harness> {
  const meshKeys = await createTestMeshKeys();
  const testDb: TestDatabase = await createTestDatabase();
  const db = await openDatabase({ url: testDb.url });
  await migrate(db.pool, { schema: orderSchema, migrations: orderMigrations });
  await migrate(db.pool, { schema: ticketSchema, migrations: ticketMigrations });
  const servers: Server[] = [];
  let calls = 0;

  const startOrderService = async () => {
    const server = createOrderServer({ pool: db.pool, logger, meshKeys: meshKeys.keys });
    servers.push(server);
    const port = await server.listen(0);
    return { server, address: `127.0.0.1:${port}` };
  };

  const startTicketService = async (orderLookup: OrderLookup): Promise<TicketService> => {
    const server = createTicketServer({ pool: db.pool, logger, orderLookup, meshKeys: meshKeys.keys });
    servers.push(server);
    const port = await server.listen(0);
    const client = createGrpcClient(ToolService, { address: `127.0.0.1:${port}` });
    const invoke = async ({
      tool = 'create_ticket',
      args,
      key = '',
      principal = u1001,
      callId = `call_${++calls}`,
      delegate = tool === 'create_ticket',
    }: Call) => {
      const request = {
        toolCallId: callId,
        toolName: tool,
        argumentsJson: typeof args === 'string' ? args : JSON.stringify(args),
        idempotencyKey: key,
      };
      const delegations = delegate
        ? [await meshKeys.delegation(principal, orderDetailTool, callId, tool)]
        : [];
      const res = await client.invokeTool(request, await meshKeys.toolCall(principal, request, delegations));
      return res.outcome;
    };
    return {
      server,
      client,
      invoke,
      async resultJson(call) {
        const outcome = await invoke(call);
        if (outcome.case !== 'resultJson')
          throw new Error(`expected a result, got ${JSON.stringify(outcome)}`);
        return outcome.value;
      },
      async error(call) {
        const outcome = await invoke(call);
        if (outcome.case !== 'error') throw new Error(`expected an error, got ${JSON.stringify(outcome)}`);
        return outcome.value;
      },
    };
  };

  const order = await startOrderService();
  const lookup = createOrderLookup({ address: order.address });
  let lookups = 0;
  const ticket = await startTicketService({
    getOrder(orderId, ctx) {
      lookups += 1;
      return lookup.getOrder(orderId, ctx);
    },
  });

  return {
    db,
    meshKeys,
    async ticketCount() {
      const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM tickets.tickets');
      return rows[0].n as number;
    },
    orderServer: order.server,
    orderAddress: order.address,
    ticket,
    lookupCalls: () => lookups,
    startTicketService,
    startOrderService,
    async stop() {
      await Promise.all(servers.map((s) => s.shutdown(1_000)));
      await db.close();
      await testDb.drop();
    },
  };
}
