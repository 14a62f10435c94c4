import type http2 from 'node:http2';
import type { RequestHandler } from './create-protocol-listener.ts';

// connect reports a request body that does not decode (broken protobuf, invalid
// UTF-8 in a string field) as INTERNAL "parse binary: …", before any interceptor
// runs. It is the caller's mistake, not ours: INVALID_ARGUMENT, without the detail.
const parseFailure = /^parse(%20|\s)(binary|json)/;
const invalidMessage = 'invalid request message';

type Headers = http2.OutgoingHttpHeaders;

// gRPC: the status travels in headers (trailers-only) or trailers.
function rewrite(headers: Headers | undefined): Headers | undefined {
  if (!headers || String(headers['grpc-status']) !== '13') return headers;
  if (!parseFailure.test(String(headers['grpc-message'] ?? ''))) return headers;
  return { ...headers, 'grpc-status': '3', 'grpc-message': encodeURIComponent(invalidMessage) };
}

// gRPC-Web: the status travels in a trailer frame at the end of the body (flag 0x80).
function rewriteGrpcWebTrailer(chunk: unknown): unknown {
  if (!(chunk instanceof Uint8Array) || chunk[0] !== 0x80 || chunk.length < 5) return chunk;
  const text = Buffer.from(chunk.subarray(5)).toString('latin1');
  if (!/^grpc-status: ?13\r?$/m.test(text)) return chunk;
  if (!parseFailure.test(/^grpc-message: ?(.*?)\r?$/m.exec(text)?.[1] ?? '')) return chunk;
  const trailer = Buffer.from(`grpc-status: 3\r\ngrpc-message: ${encodeURIComponent(invalidMessage)}\r\n`);
  const frame = Buffer.alloc(5 + trailer.length);
  frame[0] = 0x80;
  frame.writeUInt32BE(trailer.length, 1);
  trailer.copy(frame, 5);
  return frame;
}

// Connect unary: the error is a JSON body with HTTP 500 for "internal".
function rewriteConnectError(chunk: unknown): Buffer | undefined {
  if (!(chunk instanceof Uint8Array)) return undefined;
  try {
    const error = JSON.parse(Buffer.from(chunk).toString('utf8')) as { code?: unknown; message?: unknown };
    if (error.code !== 'internal' || !parseFailure.test(String(error.message ?? ''))) return undefined;
  } catch {
    return undefined;
  }
  return Buffer.from(JSON.stringify({ code: 'invalid_argument', message: invalidMessage }));
}

/**
 * Wraps the response so an undecodable request ends with INVALID_ARGUMENT instead of INTERNAL,
 * in each protocol's own way: gRPC status headers and trailers, the gRPC-Web trailer frame,
 * and the Connect JSON error (then with HTTP 400 instead of 500).
 */
export function reportUndecodableRequests(res: Parameters<RequestHandler>[1]): void {
  // Both response kinds have these methods; their overloads only differ in types.
  type Write = (chunk: unknown, ...rest: unknown[]) => boolean;
  const target = res as unknown as {
    writeHead: (status: number, headers?: Headers) => unknown;
    addTrailers: (headers: Headers) => void;
    write: Write;
    end: (...args: unknown[]) => unknown;
  };
  const writeHead = target.writeHead.bind(res);
  const addTrailers = target.addTrailers.bind(res);
  const write = target.write.bind(res) as Write;
  const end = target.end.bind(res);
  // A Connect error's head waits for its body, which decides the status and the length.
  let deferredHead: [number, Headers | undefined] | undefined;
  const flushHead = (body?: unknown): unknown => {
    if (!deferredHead) return body;
    const [status, headers] = deferredHead;
    deferredHead = undefined;
    const replaced = rewriteConnectError(body);
    if (!replaced) {
      writeHead(status, headers);
      return body;
    }
    writeHead(400, { ...headers, 'content-length': String(replaced.length) });
    return replaced;
  };
  target.writeHead = (status: number, headers?: Headers) => {
    const contentType = String(headers?.['content-type'] ?? '');
    if (status === 500 && contentType.startsWith('application/json')) {
      deferredHead = [status, headers];
      return res;
    }
    return writeHead(status, rewrite(headers));
  };
  target.addTrailers = (headers: Headers) => addTrailers(rewrite(headers) ?? headers);
  target.write = (chunk: unknown, ...rest: unknown[]) =>
    write(rewriteGrpcWebTrailer(flushHead(chunk)), ...rest);
  target.end = (...args: unknown[]) => {
    const [first, ...rest] = args;
    // end(chunk) carries the body itself; end() or end(callback) carries none.
    if (first instanceof Uint8Array || typeof first === 'string') return end(flushHead(first), ...rest);
    flushHead();
    return end(...args);
  };
}

/** True for connect's request-decoding errors (seen inside streaming handlers). */
export function isUndecodableRequest(message: string): boolean {
  return parseFailure.test(message);
}
