import { type Code, ConnectError } from '@connectrpc/connect';

/** The gRPC status a call ended with: undefined when it succeeded. */
export async function rpcCode(call: Promise<unknown>): Promise<Code | undefined> {
  try {
    await call;
    return undefined;
  } catch (error) {
    return ConnectError.from(error).code;
  }
}
