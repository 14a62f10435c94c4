// The one error module: the table, the typed details, and how a hop relays them.
import {
  Code,
  ConnectError,
  createError,
  errorFor,
  isPublicError,
  isStorageUnavailable,
  publicError,
  readErrorInfo,
  relayError,
  sanitizedErrorHeader,
  toolCallFailure,
  toolErrorForStatus,
  toolErrorStatus,
  toolFailure,
} from '../src/index.ts';

// An error as it arrives from a peer's error boundary.
const fromBoundary = (error: ConnectError) => {
  error.metadata.set(sanitizedErrorHeader, '1');
  return error;
};

test('a reason of the table makes the status, the public message and the typed details', () => {
  const error = errorFor('MODEL_UNAVAILABLE', { retryAfterMs: 4_200 });
  expect([error.code, error.rawMessage]).toEqual([
    Code.Unavailable,
    'the model is unavailable, retry after 5 s',
  ]);
  expect(isPublicError(error)).toBe(true);
  expect(readErrorInfo(error)).toEqual({
    reason: 'MODEL_UNAVAILABLE',
    domain: 'toolmesh',
    metadata: {},
    retryAfterMs: 4_200,
  });
  expect(errorFor('MODEL_UNAVAILABLE').rawMessage).toBe('the model is unavailable, retry later');
  expect(readErrorInfo(errorFor('STORAGE_UNAVAILABLE'))?.retryAfterMs).toBeUndefined();
  expect(readErrorInfo(publicError(Code.NotFound, 'conversation not found'))?.reason).toBe('NOT_FOUND');
  expect(readErrorInfo(new ConnectError('no details', Code.Internal))).toBeUndefined();
  expect(readErrorInfo(new Error('not an rpc error'))).toBeUndefined();
});

test('createError carries any reason and metadata; a client-side error can stay under the boundary', () => {
  const error = createError(Code.FailedPrecondition, 'ACTION_EXPIRED', 'the action expired', {
    metadata: { action_id: 'a1' },
  });
  expect(readErrorInfo(error)).toEqual({
    reason: 'ACTION_EXPIRED',
    domain: 'toolmesh',
    metadata: { action_id: 'a1' },
  });
  expect(isPublicError(errorFor('CIRCUIT_OPEN', { forCaller: false }))).toBe(false);
});

test('a relayed answer keeps code, message and details; a peer that did not answer is DEPENDENCY_UNAVAILABLE', () => {
  const live = new AbortController().signal;
  const options = { dependency: 'orchestrator', signal: live };
  const answered = fromBoundary(errorFor('MODEL_UNAVAILABLE', { retryAfterMs: 3_000 }));
  const relayed = relayError(answered, options);
  expect(relayed).not.toBe(answered);
  expect(relayed).toMatchObject({
    code: Code.Unavailable,
    rawMessage: 'the model is unavailable, retry after 3 s',
  });
  expect(readErrorInfo(relayed)).toMatchObject({ reason: 'MODEL_UNAVAILABLE', retryAfterMs: 3_000 });
  expect(isPublicError(relayed)).toBe(true);
  // A message of an unsanitized NOT_FOUND is the peer's own answer too; it had no details.
  expect(readErrorInfo(relayError(new ConnectError('task not found', Code.NotFound), options))?.reason).toBe(
    'NOT_FOUND',
  );

  const down = relayError(
    new ConnectError('connect ECONNREFUSED 127.0.0.1:50051', Code.Unavailable),
    options,
  );
  expect(down).toMatchObject({
    code: Code.Unavailable,
    rawMessage: 'the orchestrator is unavailable, retry later',
  });
  expect(readErrorInfo(down)).toMatchObject({
    reason: 'DEPENDENCY_UNAVAILABLE',
    metadata: { dependency: 'orchestrator' },
  });
  const reset = relayError(new ConnectError('stream reset', Code.Canceled), options);
  expect(readErrorInfo(reset)?.reason).toBe('DEPENDENCY_UNAVAILABLE');

  // The caller's own cancellation, and anything unexplained, are the boundary's to handle.
  const gone = new AbortController();
  gone.abort();
  const cancelled = new ConnectError('cancelled', Code.Canceled);
  expect(relayError(cancelled, { dependency: 'orchestrator', signal: gone.signal })).toBe(cancelled);
  const bug = new ConnectError('column "x" does not exist', Code.Internal);
  expect(relayError(bug, options)).toBe(bug);
});

test('tool failures come from the same table', () => {
  expect(
    toolFailure('TOOL_UNAVAILABLE', { retryAfterMs: 1_500, metadata: { tool: 'get_order_detail' } }),
  ).toEqual({
    reason: 'TOOL_UNAVAILABLE',
    code: 'UNAVAILABLE',
    message: 'get_order_detail is unavailable; retry after 2 s',
    retryable: true,
    retryAfterMs: 1_500,
  });
  expect(toolFailure('TOOL_UNAVAILABLE', { metadata: { tool: 'x' } }).message).toBe(
    'x is unavailable; retry later',
  );
  const timeout = new ConnectError('deadline', Code.DeadlineExceeded);
  expect(toolCallFailure(timeout, { idempotent: true })).toMatchObject({ code: 'TIMEOUT', retryable: true });
  expect(toolCallFailure(timeout, { idempotent: false })).toMatchObject({
    code: 'TIMEOUT',
    message: 'the tool did not answer in time',
    retryable: false,
  });
  expect(toolCallFailure(new ConnectError('reset', Code.Aborted), { idempotent: false })).toMatchObject({
    reason: 'TOOL_SERVICE_UNAVAILABLE',
    code: 'UNAVAILABLE',
  });
  const shed = fromBoundary(new ConnectError('busy', Code.ResourceExhausted));
  expect(toolCallFailure(shed, { idempotent: false })).toMatchObject({
    code: 'RATE_LIMITED',
    retryable: true,
  });
  const answeredBug = fromBoundary(new ConnectError('internal error', Code.Internal));
  expect(toolCallFailure(answeredBug, { idempotent: true })).toMatchObject({
    reason: 'TOOL_CALL_FAILED',
    code: 'INTERNAL',
    message: 'the tool call failed',
    retryable: false,
  });
});

test('tool error names and statuses map both ways', () => {
  expect(toolErrorStatus('CONFLICT')).toBe(Code.Aborted);
  expect(toolErrorStatus('TIMEOUT')).toBe(Code.DeadlineExceeded);
  expect(toolErrorForStatus(Code.ResourceExhausted)).toBe('RATE_LIMITED');
  expect(toolErrorForStatus(Code.Unauthenticated)).toBeUndefined();
});

test('storage outages are told from refused statements by the driver code', () => {
  expect(isStorageUnavailable(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
  expect(isStorageUnavailable(Object.assign(new Error('x'), { code: '57P01' }))).toBe(true);
  expect(isStorageUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
  expect(isStorageUnavailable(Object.assign(new Error('x'), { code: '23505' }))).toBe(false);
});
