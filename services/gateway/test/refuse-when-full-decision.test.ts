// What the early refusal decides, in process against a bound whose state the test sets: it asks
// the authenticator only while the bound is reached, refuses only a caller that authenticates and
// only if the bound is still reached then, and answers the retry hint in force.
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { ChatService, PrincipalSchema } from '@toolmesh/proto';
import { type Admission, readErrorInfo } from '@toolmesh/rpc';
import type { Authenticate } from '../src/authenticate.ts';
import { refuseWhenFull } from '../src/refuse-when-full.ts';

interface FakeBound extends Admission {
  isFull: boolean;
  /** Whether the bound is still reached when the refusal is counted (a slot may free meanwhile). */
  stillFull: boolean;
  hint: number;
  shedCount: number;
}

function fakeBound(): FakeBound {
  const bound: FakeBound = {
    isFull: false,
    stillFull: true,
    hint: 1_000,
    shedCount: 0,
    tryAdmit: () => undefined,
    full: () => bound.isFull,
    shedIfFull: () => {
      if (!bound.stillFull) return false;
      bound.shedCount++;
      return true;
    },
    retryAfterMs: () => bound.hint,
  };
  return bound;
}

const principal = create(PrincipalSchema, { userId: 'u_1001', tenantId: 't1', permissions: [] });
const asked: (string | null)[] = [];
const authenticate: Authenticate = async (authorization) => {
  asked.push(authorization);
  return authorization === 'Bearer good' ? principal : undefined;
};

beforeEach(() => {
  asked.length = 0;
});

const decide = (bound: FakeBound, authorization?: string) =>
  refuseWhenFull({ admission: bound, service: ChatService, authenticate, tier: 'gateway' }).refuse(
    authorization ? { authorization } : {},
  );

test('it covers every method of the bound service', () => {
  const refusal = refuseWhenFull({
    admission: fakeBound(),
    service: ChatService,
    authenticate,
    tier: 'gateway',
  });
  expect(refusal.methods.map((m) => m.name)).toEqual(ChatService.methods.map((m) => m.name));
});

test('with room, the call goes on at once: undefined, synchronously, no authentication', () => {
  const bound = fakeBound();
  expect(decide(bound, 'Bearer good')).toBeUndefined();
  expect(asked).toEqual([]);
  expect(bound.shedCount).toBe(0);
});

test('full: an authenticated caller gets OVERLOADED with the hint in force, counted as shed', async () => {
  const bound = fakeBound();
  bound.isFull = true;
  bound.hint = 2_500;
  const error = await decide(bound, 'Bearer good');
  expect(error).toBeInstanceOf(ConnectError);
  expect(error?.code).toBe(Code.ResourceExhausted);
  expect(readErrorInfo(error)).toEqual({
    reason: 'OVERLOADED',
    domain: 'toolmesh',
    metadata: { service: 'gateway' },
    retryAfterMs: 2_500,
  });
  expect(asked).toEqual(['Bearer good']);
  expect(bound.shedCount).toBe(1);
});

test('full: a caller without a valid credential is left to the normal path, nothing shed', async () => {
  const bound = fakeBound();
  bound.isFull = true;
  expect(await decide(bound)).toBeUndefined();
  expect(await decide(bound, 'Bearer wrong')).toBeUndefined();
  expect(asked).toEqual([null, 'Bearer wrong']);
  expect(bound.shedCount).toBe(0);
});

test('full when asked but a slot freed during authentication: left to the interceptor', async () => {
  const bound = fakeBound();
  bound.isFull = true;
  bound.stillFull = false;
  expect(await decide(bound, 'Bearer good')).toBeUndefined();
  expect(bound.shedCount).toBe(0);
});

test('the same hint answers the same refusal; a new hint, a new one', async () => {
  const bound = fakeBound();
  bound.isFull = true;
  const refusal = refuseWhenFull({ admission: bound, service: ChatService, authenticate, tier: 'gateway' });
  const ask = () => refusal.refuse({ authorization: 'Bearer good' });
  const first = await ask();
  expect(await ask()).toBe(first);
  bound.hint = 4_000;
  const second = await ask();
  expect(second).not.toBe(first);
  expect(readErrorInfo(second)?.retryAfterMs).toBe(4_000);
});

test('an authenticator that fails leaves the call to the normal path (a rejection)', async () => {
  const bound = fakeBound();
  bound.isFull = true;
  const failing = refuseWhenFull({
    admission: bound,
    service: ChatService,
    authenticate: () => Promise.reject(new Error('JWKS unreachable')),
    tier: 'gateway',
  });
  await expect(failing.refuse({ authorization: 'Bearer a.b.c' })).rejects.toThrow('JWKS unreachable');
  expect(bound.shedCount).toBe(0);
});
