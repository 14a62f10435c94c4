import type http2 from 'node:http2';
import type { RequestHandler } from './create-protocol-listener.ts';

// connect reports a request body that does not decode (broken protobuf, invalid
// UTF-8 in a string field) as INTERNAL "parse binary: …", before any interceptor
// runs. It is the caller's mistake, not ours: INVALID_ARGUMENT, without the detail.
const parseFailure = /^parse(%20|\s)(binary|json)/;

type Headers = http2.OutgoingHttpHeaders;

function rewrite(headers: Headers | undefined): Headers | undefined {
  if (!headers || String(headers['grpc-status']) !== '13') return headers;
  if (!parseFailure.test(String(headers['grpc-message'] ?? ''))) return headers;
  return { ...headers, 'grpc-status': '3', 'grpc-message': 'invalid%20request%20message' };
}

/**
 * Wraps the response so an undecodable request ends with INVALID_ARGUMENT instead of INTERNAL.
 * HTTP/1.1 responses (gRPC-Web, Connect) are wrapped too; gRPC-Web carries the status in its
 * body when the response has one, which the error boundary already covers.
 */
export function reportUndecodableRequests(res: Parameters<RequestHandler>[1]): void {
  // Both response kinds have these two methods; their overloads only differ in types.
  const target = res as unknown as {
    writeHead: (status: number, headers?: Headers) => unknown;
    addTrailers: (headers: Headers) => void;
  };
  const writeHead = target.writeHead.bind(res);
  const addTrailers = target.addTrailers.bind(res);
  target.writeHead = (status: number, headers?: Headers) => writeHead(status, rewrite(headers));
  target.addTrailers = (headers: Headers) => addTrailers(rewrite(headers) ?? headers);
}

/** True for connect's request-decoding errors (seen inside streaming handlers). */
export function isUndecodableRequest(message: string): boolean {
  return parseFailure.test(message);
}
