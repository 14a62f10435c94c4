/** Why a caller was turned away without waiting for a slot. */
export type LimitExceededReason = 'queue_full' | 'queue_timeout';

/** A concurrency limit turned a caller away; services map it to RESOURCE_EXHAUSTED. */
export class LimitExceededError extends Error {
  readonly reason: LimitExceededReason;

  constructor(reason: LimitExceededReason, message?: string) {
    super(message ?? (reason === 'queue_full' ? 'the wait queue is full' : 'waited too long for a slot'));
    this.name = 'LimitExceededError';
    this.reason = reason;
  }
}
