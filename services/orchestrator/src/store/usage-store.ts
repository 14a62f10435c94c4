import { type Clock, systemClock } from '@toolmesh/clock';
import type { Pool } from '@toolmesh/db';
import { sharedWriteBatcher, type WriteBatcher, type WriteKind } from './write-batcher.ts';

/** What one turn cost: one row of orchestrator.turn_usage. */
export interface TurnUsageRow {
  tenantId: string;
  userId: string;
  conversationId: string;
  assistant: string;
  variant: string;
  /** The model that answered (the last one, when a fallback took over). */
  model: string;
  promptTokens: number;
  completionTokens: number;
  modelCalls: number;
}

/** Usage summed over a time range for one (tenant, assistant, variant, model). */
export interface UsageSummaryRow {
  tenantId: string;
  assistant: string;
  variant: string;
  model: string;
  /** Turns that called the model. */
  turns: number;
  /** Distinct conversations among them. */
  conversations: number;
  promptTokens: number;
  completionTokens: number;
  /** promptTokens + completionTokens. */
  totalTokens: number;
  modelCalls: number;
}

/** What {@link UsageStore.summarize} sums: `from` inclusive, `to` exclusive. */
export interface UsageQuery {
  from: Date;
  to: Date;
  tenantId?: string;
  assistant?: string;
}

/** Usage per turn in SQL, for operators (UsageService) and budgets' audit. */
export interface UsageStore {
  /** Records one turn, timed by the clock. */
  record(row: TurnUsageRow): Promise<void>;
  /** Sums per tenant, assistant, variant and model, ordered by those. */
  summarize(query: UsageQuery): Promise<UsageSummaryRow[]>;
}

/** Options of {@link createUsageStore}. */
export interface UsageStoreOptions {
  /** When a turn is recorded; default the system clock. */
  clock?: Clock;
  /** Where rows go, committed with other turns' writes; default the batcher every store of `pool` shares. */
  writes?: WriteBatcher;
}

// The turns of one flush in one INSERT.
const usageKind: WriteKind<TurnUsageRow & { at: Date }> = {
  name: 'usage.record',
  order: 50,
  async run(db, rows) {
    const column = <T>(f: (r: TurnUsageRow & { at: Date }) => T) => rows.map(f);
    await db.query(
      `INSERT INTO orchestrator.turn_usage (created_at, tenant_id, user_id, conversation_id, assistant,
         variant, model, prompt_tokens, completion_tokens, model_calls)
       SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[],
                            $7::text[], $8::integer[], $9::integer[], $10::integer[])`,
      [
        column((r) => r.at),
        column((r) => r.tenantId),
        column((r) => r.userId),
        column((r) => r.conversationId),
        column((r) => r.assistant),
        column((r) => r.variant),
        column((r) => r.model),
        column((r) => r.promptTokens),
        column((r) => r.completionTokens),
        column((r) => r.modelCalls),
      ],
    );
    return rows.map(() => undefined);
  },
};

interface SummaryRecord {
  tenant_id: string;
  assistant: string;
  variant: string;
  model: string;
  turns: string;
  conversations: string;
  prompt_tokens: string;
  completion_tokens: string;
  model_calls: string;
}

/** Creates the SQL {@link UsageStore} over orchestrator.turn_usage. */
export function createUsageStore(pool: Pool, options: UsageStoreOptions = {}): UsageStore {
  const clock = options.clock ?? systemClock;
  const writes = options.writes ?? sharedWriteBatcher(pool);
  return {
    async record(row) {
      await writes.write(usageKind, { ...row, at: new Date(clock.now()) });
    },
    async summarize(query) {
      // Sums come back as bigint (text in pg); counts of a day fit a JS number.
      const { rows } = await pool.query<SummaryRecord>(
        `SELECT tenant_id, assistant, variant, model, count(*) AS turns,
                count(DISTINCT conversation_id) AS conversations,
                sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
                sum(model_calls) AS model_calls
           FROM orchestrator.turn_usage
          WHERE created_at >= $1 AND created_at < $2
            AND ($3::text IS NULL OR tenant_id = $3) AND ($4::text IS NULL OR assistant = $4)
          GROUP BY tenant_id, assistant, variant, model
          ORDER BY tenant_id, assistant, variant, model`,
        [query.from, query.to, query.tenantId ?? null, query.assistant ?? null],
      );
      return rows.map((r) => ({
        tenantId: r.tenant_id,
        assistant: r.assistant,
        variant: r.variant,
        model: r.model,
        turns: Number(r.turns),
        conversations: Number(r.conversations),
        promptTokens: Number(r.prompt_tokens),
        completionTokens: Number(r.completion_tokens),
        totalTokens: Number(r.prompt_tokens) + Number(r.completion_tokens),
        modelCalls: Number(r.model_calls),
      }));
    },
  };
}
