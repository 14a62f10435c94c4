import { createContextKey } from '@connectrpc/connect';

/**
 * The request id of the call a handler serves (`ctx.values.get(requestIdKey)`): the
 * caller's x-request-id when it sent a usable one, otherwise one made for this call.
 * Clients pass it on in x-request-id; every log line of the call carries it.
 */
export const requestIdKey = createContextKey<string>('', { description: 'request id' });
