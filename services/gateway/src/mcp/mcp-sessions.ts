import type http from 'node:http';
import type { Clock, ClockTimer } from '@toolmesh/clock';
import type { Principal } from '@toolmesh/proto';

/** One stateful MCP session: a client that can be asked (elicitation) keeps one open. */
export interface McpSession {
  /** "<tenant>/<user>": only this caller may use the session. */
  readonly owner: string;
  /** The caller as last authenticated on this session (permissions may change between requests). */
  principal: Principal;
  /** Answers one HTTP request of the session (POST with its parsed body, GET, DELETE). */
  handle(req: http.IncomingMessage, res: http.ServerResponse, body?: unknown): Promise<void>;
  /** Ends the session's transport and server. */
  close(): Promise<void>;
}

/** Options of {@link createMcpSessions}. */
export interface McpSessionsOptions {
  clock: Clock;
  /** A session unused this long is closed; default 10 minutes. */
  idleMs?: number;
  /** Open sessions per (tenant, user); default 16. */
  maxPerUser?: number;
  /** Open sessions in this gateway; default 10,000. */
  maxTotal?: number;
  /** Hears the number of open sessions after every change (a gauge). */
  onCount?: (open: number) => void;
}

/** The stateful MCP sessions of one gateway process. */
export interface McpSessions {
  /** The session if it exists and belongs to `owner`; a use keeps it alive. */
  use(id: string, owner: string): McpSession | undefined;
  /** False when `owner` or the gateway is at its limit: the caller must close or let one expire first. */
  hasRoom(owner: string): boolean;
  add(id: string, session: McpSession): void;
  /** Forgets the session (its transport closed it). */
  remove(id: string): void;
  closeAll(): Promise<void>;
}

/** "<tenant>/<user>" of a verified caller: whose a session is. */
export const sessionOwner = (principal: Principal) => `${principal.tenantId}/${principal.userId}`;

/**
 * Sessions live in this process only: a client keeps talking to the gateway that
 * answered its initialize (sticky by the Mcp-Session-Id header behind a load
 * balancer); one that lands elsewhere is told the session is gone and starts anew.
 * Bounded per user and in total, and closed after being idle, so clients that
 * never say goodbye cannot hold memory forever.
 */
export function createMcpSessions(options: McpSessionsOptions): McpSessions {
  const idleMs = options.idleMs ?? 600_000;
  const maxPerUser = options.maxPerUser ?? 16;
  const maxTotal = options.maxTotal ?? 10_000;
  const sessions = new Map<string, { id: string; session: McpSession; timer: ClockTimer }>();
  const perOwner = new Map<string, number>();

  const count = () => options.onCount?.(sessions.size);
  const arm = (id: string, session: McpSession) =>
    options.clock
      .setTimeout(() => {
        remove(id);
        void session.close().catch(() => {});
      }, idleMs)
      .unref();

  function remove(id: string) {
    const entry = sessions.get(id);
    if (!entry) return;
    entry.timer.cancel();
    sessions.delete(id);
    const left = (perOwner.get(entry.session.owner) ?? 1) - 1;
    if (left > 0) perOwner.set(entry.session.owner, left);
    else perOwner.delete(entry.session.owner);
    count();
  }

  return {
    use(id, owner) {
      const entry = sessions.get(id);
      // Another caller's session answers exactly as a missing one.
      if (!entry || entry.session.owner !== owner) return undefined;
      entry.timer.cancel();
      entry.timer = arm(id, entry.session);
      return entry.session;
    },
    hasRoom: (owner) => sessions.size < maxTotal && (perOwner.get(owner) ?? 0) < maxPerUser,
    add(id, session) {
      sessions.set(id, { id, session, timer: arm(id, session) });
      perOwner.set(session.owner, (perOwner.get(session.owner) ?? 0) + 1);
      count();
    },
    remove,
    async closeAll() {
      const all = [...sessions.values()];
      for (const e of all) remove(e.id);
      await Promise.all(all.map((e) => e.session.close().catch(() => {})));
    },
  };
}
