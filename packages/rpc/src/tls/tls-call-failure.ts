import { Code, ConnectError } from '@connectrpc/connect';

// Node's codes for a failed handshake or a certificate it would not accept.
const tlsCodePattern =
  /^(ERR_SSL_|ERR_TLS_|UNABLE_TO_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|INVALID_CA|HOSTNAME_MISMATCH)/;

function tlsCodeOf(error: unknown): string | undefined {
  // Walks causes by shape, not instanceof: errors of other realms (jest's VM contexts) too.
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && tlsCodePattern.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The error a call over mutual TLS answers when its connection failed: UNAVAILABLE, as gRPC
 * reports a failed handshake, where connect-node would say INTERNAL (a TLS error) or
 * CANCELED (the streams of a connection the peer closed; a TLS 1.3 server that refuses the
 * client's certificate does so right after the handshake). A cancellation the caller asked
 * for, and every answer of the server, stay as they are.
 */
export function tlsCallFailure(error: unknown, address: string, signal: AbortSignal | undefined): unknown {
  if (!(error instanceof ConnectError) || signal?.aborted) return error;
  const tlsCode = tlsCodeOf(error);
  if (tlsCode) {
    return new ConnectError(
      `TLS handshake with ${address} failed (${tlsCode}): ${error.rawMessage}`,
      Code.Unavailable,
      undefined,
      undefined,
      error,
    );
  }
  // Made by connect-node from the stream's close, not a status the server sent.
  if (
    error.code === Code.Canceled &&
    error.rawMessage.startsWith('http/2 stream closed with error code CANCEL')
  ) {
    return new ConnectError(
      `connection to ${address} closed before the call was answered (over mutual TLS, also how a server that does not accept this client's certificate refuses it): ${error.rawMessage}`,
      Code.Unavailable,
      undefined,
      undefined,
      error,
    );
  }
  return error;
}
