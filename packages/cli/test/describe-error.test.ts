import { Code, ConnectError } from '@connectrpc/connect';
import { errorFor, publicError } from '@toolmesh/rpc';
import { describeError } from '../src/index.ts';

const context = { baseUrl: 'http://127.0.0.1:8080', rpc: 'toolmesh.v1.ChatService/Chat' };

test('the reason and retry hint come from the typed details, not from the message', () => {
  expect(
    describeError(errorFor('RATE_LIMITED', { retryAfterMs: 2_100, metadata: { scope: 'user' } }), context),
  ).toEqual({
    code: 'RESOURCE_EXHAUSTED',
    message: 'rate limit reached for this user; retry in 3 s',
    hint: 'rate limited: retry in 3 s',
    reason: 'RATE_LIMITED',
    retryAfterMs: 2_100,
  });
  expect(describeError(errorFor('MODEL_UNAVAILABLE', { retryAfterMs: 4_000 }), context)).toMatchObject({
    code: 'UNAVAILABLE',
    hint: 'the gateway is up, but the model is unavailable: retry in 4 s',
    reason: 'MODEL_UNAVAILABLE',
  });
  const orchestratorDown = errorFor('DEPENDENCY_UNAVAILABLE', { metadata: { dependency: 'orchestrator' } });
  expect(describeError(orchestratorDown, context).hint).toBe(
    'the gateway is up, but the orchestrator is unavailable: retry later',
  );
  // A reason that only repeats the code is left out.
  expect(describeError(publicError(Code.NotFound, 'conversation not found'), context)).toEqual({
    code: 'NOT_FOUND',
    message: 'conversation not found',
  });
});

test('an UNAVAILABLE without details is the gateway itself not answering', () => {
  const refused = new ConnectError('connect ECONNREFUSED 127.0.0.1:8080', Code.Unavailable);
  expect(describeError(refused, context).hint).toContain('is the gateway running at http://127.0.0.1:8080?');
  expect(describeError(new ConnectError('slow down', Code.ResourceExhausted), context).hint).toBe(
    'rate limited: wait a moment and retry',
  );
});

test("a tenant's budget and the usage permission get hints of their own", () => {
  expect(describeError(errorFor('TENANT_BUDGET_EXHAUSTED', { retryAfterMs: 60_000 }), context).hint).toBe(
    "your tenant's token budget is spent: retry in 60 s",
  );
  expect(describeError(errorFor('TENANT_BUSY', { retryAfterMs: 500 }), context).hint).toBe(
    'your tenant runs as many chats at once as it may: retry in 1 s',
  );
  const usage = { ...context, rpc: 'toolmesh.v1.UsageService/GetUsage' };
  expect(describeError(publicError(Code.PermissionDenied, 'no'), usage).hint).toContain(
    'reading usage needs the usage:read permission',
  );
});
