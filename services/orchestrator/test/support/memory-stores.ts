// In-memory implementations of the orchestrator's store ports, with the semantics of
// the SQL ones (leases, expiry compared with the clock, one result per call), for
// in-process tests of the core.
import { randomUUID } from 'node:crypto';
import type { Clock } from '@toolmesh/clock';
import { isOwnedBy, type Owner, type StoredMessage } from '../../src/core-types.ts';
import {
  type ChatRequestClaim,
  type ChatRequestStore,
  type ConversationAssistant,
  type ConversationStore,
  type ExecutionEnd,
  type ExecutionLedger,
  type ExecutionStart,
  hashArguments,
  type PendingActionRecord,
  type PendingActionStore,
} from '../../src/store/index.ts';

const copy = <T>(value: T): T => structuredClone(value);

interface Conversation {
  tenantId: string;
  userId: string;
  busyUntil: number | undefined;
  token: string | undefined;
  messages: StoredMessage[];
  assistant: ConversationAssistant | undefined;
}

/** The conversation store in memory; `conversation(id)` shows a conversation as stored. */
export function createMemoryConversationStore(clock: Clock) {
  const conversations = new Map<string, Conversation>();
  const free = (c: Conversation) => c.busyUntil === undefined || c.busyUntil < clock.now();
  const hold = (c: Conversation, leaseMs: number, token: string) => {
    c.busyUntil = clock.now() + leaseMs;
    c.token = token;
  };
  const store: ConversationStore = {
    async createHeld(principal, lease, messages, options = {}) {
      const conversationId = options.conversationId ?? randomUUID();
      if (conversations.has(conversationId)) throw new Error(`duplicate conversation ${conversationId}`);
      conversations.set(conversationId, {
        tenantId: principal.tenantId,
        userId: principal.userId,
        busyUntil: clock.now() + lease.leaseMs,
        token: lease.token,
        messages: copy(messages),
        assistant: options.assistant && copy(options.assistant),
      });
      return { conversationId, messages: copy(messages) };
    },
    async adoptAssistant(conversationId, assistant) {
      const c = conversations.get(conversationId);
      if (c && !c.assistant) c.assistant = { assistant: assistant.assistant, variant: assistant.variant };
    },
    async assistantOf(conversationId) {
      const assistant = conversations.get(conversationId)?.assistant;
      return assistant && copy(assistant);
    },
    async acquireOwned(conversationId, owner, lease) {
      const c = conversations.get(conversationId);
      if (!c || !isOwnedBy(c, owner)) return 'not_found';
      if (!free(c)) return 'busy';
      hold(c, lease.leaseMs, lease.token);
      return 'acquired';
    },
    async tryAcquire(conversationId, leaseMs, token) {
      const c = conversations.get(conversationId);
      if (!c || !free(c)) return false;
      hold(c, leaseMs, token);
      return true;
    },
    async renew(conversationId, leaseMs, token) {
      const c = conversations.get(conversationId);
      if (c?.token !== token) return false;
      c.busyUntil = clock.now() + leaseMs;
      return true;
    },
    async release(conversationId, token) {
      const c = conversations.get(conversationId);
      if (c && c.token === token) {
        c.busyUntil = undefined;
        c.token = undefined;
      }
    },
    async append(conversationId, messages) {
      const c = conversations.get(conversationId);
      if (!c) throw new Error(`no conversation ${conversationId}`);
      // As the SQL store's unique index: one result per call.
      const results = new Set(c.messages.flatMap((m) => (m.role === 'tool' ? [m.toolCallId] : [])));
      for (const m of messages) {
        if (m.role !== 'tool') continue;
        if (results.has(m.toolCallId))
          throw Object.assign(new Error('duplicate tool result'), { code: '23505' });
        results.add(m.toolCallId);
      }
      c.messages.push(...copy(messages));
      return copy(messages);
    },
    async load(conversationId) {
      return copy(conversations.get(conversationId)?.messages ?? []);
    },
  };
  return Object.assign(store, {
    /** The conversation as stored, for assertions. */
    conversation: (conversationId: string) => conversations.get(conversationId),
  });
}

/** The in-memory conversation store, with its inspection helper. */
export type MemoryConversationStore = ReturnType<typeof createMemoryConversationStore>;

/** A row of the in-memory ledger (shared by the ledgers of several "processes"). */
export interface LedgerRow {
  executionId: string;
  owner: string;
  start: ExecutionStart;
  status: 'running' | 'done' | 'failed' | 'unknown';
  resultCode?: string;
  taskId?: string;
  createdAt: number;
  taskReported: boolean;
}

/** The execution ledger in memory; pass the same `rows` to model several orchestrators. */
export function createMemoryLedger(clock: Clock, rows: LedgerRow[] = []) {
  const owner = randomUUID();
  const audit: { start: ExecutionStart; end: ExecutionEnd }[] = [];
  // After crash(), nothing this orchestrator writes lands, as after a kill -9.
  let crashed = false;
  const finish = (row: LedgerRow, end: ExecutionEnd) => {
    if (crashed) return;
    row.status = end.unknown ? 'unknown' : end.success ? 'done' : 'failed';
    row.resultCode = end.resultCode;
    row.taskId = end.taskId;
    audit.push({ start: row.start, end });
  };
  const add = (start: ExecutionStart): LedgerRow => {
    const row: LedgerRow = {
      executionId: randomUUID(),
      owner,
      start,
      status: 'running',
      createdAt: clock.now(),
      taskReported: false,
    };
    rows.push(row);
    return row;
  };
  const ledger: ExecutionLedger = {
    owner,
    async start(execution) {
      const row = add(execution);
      return async (end) => finish(row, end);
    },
    async record(execution, end) {
      if (!crashed) finish(add(execution), end);
    },
    async markStaleAsUnknown(staleMs) {
      const stale = rows.filter(
        (r) => r.status === 'running' && r.owner !== owner && r.createdAt < clock.now() - staleMs,
      );
      for (const r of stale) r.status = 'unknown';
      return stale.map((r) => ({
        executionId: r.executionId,
        conversationId: r.start.conversationId,
        toolCallId: r.start.toolCallId,
        toolName: r.start.toolName,
        sideEffect: r.start.sideEffect,
        actionId: r.start.actionId ?? null,
      }));
    },
    async resolve(executionId, end) {
      const row = rows.find((r) => r.executionId === executionId);
      if (row) {
        row.status = end.success ? 'done' : 'failed';
        row.resultCode = end.resultCode;
      }
    },
    async unreportedTasks(conversationId, owner) {
      return rows
        .filter(
          (r) =>
            r.start.conversationId === conversationId &&
            isOwnedBy(r.start, owner) &&
            r.taskId &&
            !r.taskReported,
        )
        .map((r) => ({
          executionId: r.executionId,
          taskId: r.taskId ?? '',
          toolName: r.start.toolName,
          toolAddress: r.start.toolAddress,
        }));
    },
    async markTaskReported(executionId) {
      const row = rows.find((r) => r.executionId === executionId);
      if (!row || row.taskReported) return false;
      row.taskReported = true;
      return true;
    },
    async findOwnedTask(taskId, owner) {
      const row = rows.find((r) => r.taskId === taskId && isOwnedBy(r.start, owner));
      return (
        row && {
          toolAddress: row.start.toolAddress,
          toolName: row.start.toolName,
          tenantId: row.start.tenantId,
          userId: row.start.userId,
        }
      );
    },
  };
  return Object.assign(ledger, {
    rows,
    audit,
    /** The orchestrator dies: its rows stay as they are now. */
    crash() {
      crashed = true;
    },
  });
}

/** The in-memory ledger, with its rows and audit records. */
export type MemoryLedger = ReturnType<typeof createMemoryLedger>;

interface ActionRow extends PendingActionRecord {
  decidedAt: number | undefined;
  reconciler?: string;
  reconcileUntil?: number | undefined;
}

/** The pending-action store in memory; `ledger` rows tell which executions a live owner runs. */
export function createMemoryPendingActionStore(clock: Clock, ledgerRows: LedgerRow[] = []) {
  const actions = new Map<string, ActionRow>();
  const record = (row: ActionRow): PendingActionRecord => {
    const { decidedAt: _decidedAt, reconciler: _reconciler, reconcileUntil: _until, ...rest } = row;
    return { ...copy(rest), expiresAt: new Date(row.expiresAt) };
  };
  const store: PendingActionStore = {
    async create(a) {
      const row: ActionRow = {
        actionId: randomUUID(),
        conversationId: a.conversationId,
        tenantId: a.tenantId,
        userId: a.userId,
        toolName: a.toolName,
        toolCallId: a.toolCallId,
        argumentsJson: a.argumentsJson,
        argumentsHash: hashArguments(a.argumentsJson),
        maskedArgumentsJson: a.maskedArgumentsJson,
        summary: a.summary,
        status: 'pending',
        expiresAt: new Date(clock.now() + a.ttlSeconds * 1000),
        response: null,
        principal: copy(a.principal),
        decidedAt: undefined,
      };
      actions.set(row.actionId, row);
      return record(row);
    },
    async get(actionId) {
      const row = actions.get(actionId);
      return row && record(row);
    },
    async getOwned(actionId, owner) {
      const row = actions.get(actionId);
      return row && isOwnedBy(row, owner) ? record(row) : undefined;
    },
    async listUndecided(conversationId) {
      return [...actions.values()]
        .filter((a) => a.conversationId === conversationId && a.status === 'pending')
        .map(record);
    },
    async claim(actionId, to) {
      const row = actions.get(actionId);
      if (row?.status !== 'pending' || row.expiresAt.getTime() <= clock.now()) return false;
      row.status = to;
      row.decidedAt = clock.now();
      return true;
    },
    async claimStale(olderThanMs, reconciler, claimMs, limit = 16) {
      const now = clock.now();
      const candidates = [...actions.values()].filter(
        (a) =>
          a.status === 'executing' &&
          (a.decidedAt ?? 0) < now - olderThanMs &&
          (a.reconcileUntil === undefined || a.reconcileUntil < now || a.reconciler === reconciler) &&
          // No replica heartbeat in memory: only the reconciler's own running executions count as live.
          !ledgerRows.some(
            (r) => r.start.actionId === a.actionId && r.owner === reconciler && r.status === 'running',
          ),
      );
      const claimed = candidates.slice(0, limit);
      for (const a of claimed) {
        a.reconciler = reconciler;
        a.reconcileUntil = now + claimMs;
      }
      return claimed.map(record);
    },
    async releaseClaim(actionId, reconciler) {
      const row = actions.get(actionId);
      if (row?.reconciler === reconciler) row.reconcileUntil = undefined;
    },
    async finish(actionId, status, response) {
      const row = actions.get(actionId);
      if (row && row.response === null) {
        row.status = status;
        row.response = JSON.parse(JSON.stringify(response));
      }
    },
    async close(actionIds, status) {
      const closed: string[] = [];
      for (const id of actionIds) {
        const row = actions.get(id);
        if (row?.status === 'pending') {
          row.status = status;
          row.decidedAt = clock.now();
          closed.push(id);
        }
      }
      return closed;
    },
  };
  return store;
}

/** The ChatRequest idempotency store in memory, keyed by (tenant, user, key) as the SQL one. */
export function createMemoryChatRequestStore(): ChatRequestStore {
  const requests = new Map<string, { request: string; response: unknown }>();
  const id = (owner: Owner, key: string) => JSON.stringify([owner.tenantId, owner.userId, key]);
  return {
    async claim(owner, key, request): Promise<ChatRequestClaim> {
      const known = requests.get(id(owner, key));
      if (!known) {
        requests.set(id(owner, key), { request: JSON.stringify(request), response: null });
        return { state: 'new' };
      }
      if (known.request !== JSON.stringify(request)) return { state: 'mismatch' };
      return known.response === null ? { state: 'in_progress' } : { state: 'done', response: known.response };
    },
    async complete(owner, key, response) {
      const known = requests.get(id(owner, key));
      if (known) known.response = JSON.parse(JSON.stringify(response));
    },
    async release(owner, key) {
      if (requests.get(id(owner, key))?.response === null) requests.delete(id(owner, key));
    },
  };
}
