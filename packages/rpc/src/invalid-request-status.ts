import type http2 from 'node:http2';

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

/** Wraps the response so an undecodable request ends with INVALID_ARGUMENT instead of INTERNAL. */
export function reportUndecodableRequests(res: http2.Http2ServerResponse): void {
  const writeHead = res.writeHead.bind(res) as (
    status: number,
    headers?: Headers,
  ) => http2.Http2ServerResponse;
  const addTrailers = res.addTrailers.bind(res);
  res.writeHead = ((status: number, headers?: Headers) =>
    writeHead(status, rewrite(headers))) as unknown as typeof res.writeHead;
  res.addTrailers = (headers: Headers) => addTrailers(rewrite(headers) ?? headers);
}

/** True for connect's request-decoding errors (seen inside streaming handlers). */
export function isUndecodableRequest(message: string): boolean {
  return parseFailure.test(message);
}
