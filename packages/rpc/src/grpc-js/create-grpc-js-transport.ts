import type { DescMessage, DescMethod, MessageShape } from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextValues,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
} from '@connectrpc/connect';
import {
  type CallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  Client,
  type ClientDuplexStream,
  type ClientReadableStream,
  connectivityState,
  type Metadata,
  type ServiceError,
  type StatusObject,
} from '@grpc/grpc-js';
import { meshHttp2Limits } from '../create-protocol-listener.ts';
import { connectErrorFromStatus } from './connect-error-from-status.ts';
import { headersToMetadata } from './headers-to-metadata.ts';
import { metadataToHeaders } from './metadata-to-headers.ts';
import { methodCodec } from './method-codec.ts';
import { openResponseStream } from './open-response-stream.ts';
import { runStreamingCall } from './run-streaming-call.ts';
import { runUnaryCall } from './run-unary-call.ts';

/** Options of {@link createGrpcJsTransport}. */
export interface GrpcJsTransportOptions {
  /** host:port of the server. */
  address: string;
  /** Plaintext (`credentials.createInsecure()`) or TLS (`credentials.createSsl(...)`). */
  credentials: ChannelCredentials;
  /** grpc-js channel options (see grpcJsChannelOptions). */
  channelOptions?: ChannelOptions;
  /** Deadline of calls that set none; none without. A call's timeoutMs ≤ 0 means no deadline. */
  defaultTimeoutMs?: number;
  /** Run around every call, first given outermost (as connect's transports run them). */
  interceptors?: Interceptor[];
  /**
   * Calls one connection carries at once before the next call dials another; default the
   * mesh servers' HTTP/2 limit of concurrent streams per connection.
   */
  maxCallsPerConnection?: number;
}

/** A connect Transport over one grpc-js channel, and the way to close that channel. */
export interface GrpcJsTransport extends Transport {
  /** Closes the channel and its connection; calls still running on it end as they will. */
  close(): void;
}

type AnyUnaryRequest = UnaryRequest<DescMessage, DescMessage>;
type AnyStreamRequest = StreamRequest<DescMessage, DescMessage>;
type AnyMessage = MessageShape<DescMessage>;

/** One grpc-js channel (one HTTP/2 connection) and the calls it carries now. */
interface Connection {
  client: Client;
  calls: number;
}

/**
 * A connect `Transport` on @grpc/grpc-js: every `createClient(service, transport)` call site,
 * connect interceptor and connect error reading works as over connect-node's gRPC transport,
 * over one grpc-js channel (one HTTP/2 connection, shared by clients of every service made on
 * the transport). Interceptors, the deadline and the caller's signal run through connect's own
 * `runStreamingCall`, and for unary calls a leaner copy of its `runUnaryCall`; the deadline also goes to grpc-js, which sends it on as
 * `grpc-timeout`. Unary and server-streaming calls use grpc-js's calls of those kinds;
 * client-streaming and bidi calls its bidi call (the wire is the same).
 */
export function createGrpcJsTransport(options: GrpcJsTransportOptions): GrpcJsTransport {
  const dial = () => new Client(options.address, options.credentials, options.channelOptions);
  const maxCalls = options.maxCallsPerConnection ?? meshHttp2Limits.maxConcurrentStreams;
  // A server admits so many concurrent streams per HTTP/2 connection (SETTINGS_MAX_CONCURRENT_
  // STREAMS; the mesh's servers 4,096): past it, a call on that connection waits, unsent, for
  // one to end, and an open ChatStream may hold its stream for minutes. So the transport keeps
  // as many channels (each its own connection) as its calls need: a call takes the first with
  // room, and dials another when all are full. One connection while calls are few; 10,000 open
  // streams to one replica take three. A channel once dialled stays (grpc-js lets its idle
  // connection go after its idle timeout), so a load that comes and goes does not redial.
  const connections: Connection[] = [{ client: dial(), calls: 0 }];
  let closed = false;
  // A grpc-js channel whose connection failed fails every call at once until its next dial,
  // one backoff later (1 s growing to 2 min): a server back from a restart, or a breaker's
  // trial call, would find the channel still failing. Dialling again for the call that finds
  // it so (a new channel, so a new connection) makes a down server cost one attempt per call
  // and lets the first call after its return through, as a dial per call did before.
  const take = (): Connection => {
    if (closed) {
      // grpc-js would throw a plain Error; this says what it is, and that nothing was sent.
      throw new ConnectError(`Channel closed before call started: ${options.address}`, Code.Unavailable);
    }
    let connection = connections.find((c) => c.calls < maxCalls);
    if (!connection) {
      connection = { client: dial(), calls: 0 };
      connections.push(connection);
    } else if (
      connection.client.getChannel().getConnectivityState(false) === connectivityState.TRANSIENT_FAILURE
    ) {
      connection.client.close();
      connection.client = dial();
    }
    connection.calls++;
    return connection;
  };
  // As connect-node's transport shows it to interceptors (req.url).
  const baseUrl = `${options.credentials._isSecure() ? 'https' : 'http'}://${options.address}`;
  const interceptors = options.interceptors ?? [];
  // As connect's transports read it: none given takes the default, ≤ 0 means no deadline.
  const timeoutOf = (timeoutMs: number | undefined) =>
    timeoutMs === undefined ? options.defaultTimeoutMs : timeoutMs <= 0 ? undefined : timeoutMs;
  // One deadline for every attempt an interceptor makes of the call.
  const callOptionsOf = (timeoutMs: number | undefined): CallOptions =>
    timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs };

  // What a unary and a streaming request share.
  const requestOf = <M extends DescMethod>(
    method: M,
    header: Parameters<Transport['unary']>[3],
    contextValues: ContextValues | undefined,
  ) => ({
    service: method.parent,
    method,
    requestMethod: 'POST' as const,
    url: `${baseUrl}${methodCodec(method).path}`,
    header: new Headers(header),
    contextValues: contextValues ?? createContextValues(),
  });

  return {
    unary(method, signal, timeoutMs, header, input, contextValues) {
      const timeout = timeoutOf(timeoutMs);
      const callOptions = callOptionsOf(timeout);
      return runUnaryCall({
        interceptors,
        signal,
        timeoutMs: timeout,
        req: {
          stream: false,
          ...requestOf(method, header, contextValues),
          message: input,
        },
        next: (req) => callUnary(take, req, callOptions),
      }) as Promise<UnaryResponse<never, never>>;
    },
    stream(method, signal, timeoutMs, header, input, contextValues) {
      const timeout = timeoutOf(timeoutMs);
      const callOptions = callOptionsOf(timeout);
      return runStreamingCall({
        interceptors,
        signal,
        timeoutMs: timeout,
        req: {
          stream: true,
          ...requestOf(method, header, contextValues),
          message: input,
        },
        next: (req) =>
          callStream(take, req as AnyStreamRequest, callOptions) as Promise<StreamResponse<never, never>>,
      }) as Promise<StreamResponse<never, never>>;
    },
    close: () => {
      closed = true;
      for (const connection of connections) connection.client.close();
    },
  };
}

// `take` is called inside: a closed transport fails the call like any other failure.
function callUnary(
  take: () => Connection,
  req: AnyUnaryRequest,
  callOptions: CallOptions,
): Promise<UnaryResponse<DescMessage, DescMessage>> {
  return new Promise((resolve, reject) => {
    const { signal } = req;
    // Cancelled before it started (connect then answers with the signal's reason): send nothing.
    if (signal.aborted) return reject(signal.reason);
    const codec = methodCodec(req.method);
    const metadata = headersToMetadata(req.header);
    let answer: AnyMessage | undefined;
    let failure: ServiceError | null = null;
    let headerMetadata: Metadata | undefined;
    const connection = take();
    const call = makeCall(connection, () =>
      withoutCallerStack(() =>
        connection.client.makeUnaryRequest(
          codec.path,
          codec.serialize,
          codec.deserialize,
          req.message,
          metadata,
          callOptions,
          (error, value) => {
            failure = error;
            answer = value;
          },
        ),
      ),
    );
    const cancel = () => call.cancel();
    signal.addEventListener('abort', cancel);
    call.on('metadata', (received: Metadata) => {
      headerMetadata = received;
    });
    // Comes right after the callback, with the trailers.
    call.on('status', (status: StatusObject) => {
      signal.removeEventListener('abort', cancel);
      if (failure) return reject(connectErrorFromStatus(failure, failure));
      if (answer === undefined) {
        return reject(
          new ConnectError('protocol error: missing output message for unary method', Code.Unknown),
        );
      }
      // Headers made only when read: most callers never look at them.
      let header: Headers | undefined;
      let trailer: Headers | undefined;
      resolve({
        stream: false,
        service: req.service,
        method: req.method,
        message: answer,
        get header() {
          header ??= metadataToHeaders(headerMetadata);
          return header;
        },
        get trailer() {
          trailer ??= metadataToHeaders(status.metadata);
          return trailer;
        },
      });
    });
  });
}

/**
 * Starts a call on `connection` and counts it there until its status (grpc-js reports one
 * for every call it made, however it ends).
 */
function makeCall<C extends { once(event: 'status', listener: () => void): unknown }>(
  connection: Connection,
  start: () => C,
): C {
  let call: C;
  try {
    call = start();
  } catch (error) {
    connection.calls--;
    throw error;
  }
  call.once('status', () => {
    connection.calls--;
  });
  return call;
}

/**
 * Starts a grpc-js call without the caller's stack trace grpc-js captures for the error it
 * may end with: that error becomes a ConnectError here, whose stack is ours. Capturing it
 * costs ~2 µs per call, and for a stream the trace (an Error and a frame record per stack
 * frame, ~1 KB) would stay with the call as long as the stream is open.
 */
function withoutCallerStack<T>(start: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return start();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

async function callStream(
  take: () => Connection,
  req: AnyStreamRequest,
  callOptions: CallOptions,
): Promise<StreamResponse<DescMessage, DescMessage>> {
  req.signal.throwIfAborted();
  const codec = methodCodec(req.method);
  const metadata = headersToMetadata(req.header);
  let call: ClientReadableStream<AnyMessage>;
  if (req.method.methodKind === 'server_streaming') {
    const inputs: AnyMessage[] = [];
    for await (const message of req.message) inputs.push(message);
    const input = inputs[0];
    if (inputs.length !== 1 || !input) {
      throw new ConnectError(
        `a server-streaming call sends one request message, not ${inputs.length}`,
        Code.Internal,
      );
    }
    const connection = take();
    call = makeCall(connection, () =>
      withoutCallerStack(() =>
        connection.client.makeServerStreamRequest(
          codec.path,
          codec.serialize,
          codec.deserialize,
          input,
          metadata,
          callOptions,
        ),
      ),
    );
  } else {
    const connection = take();
    const duplex = makeCall(connection, () =>
      withoutCallerStack(() =>
        connection.client.makeBidiStreamRequest<AnyMessage, AnyMessage>(
          codec.path,
          codec.serialize,
          codec.deserialize,
          metadata,
          callOptions,
        ),
      ),
    );
    void sendAll(req.message, duplex);
    call = duplex;
  }
  const opened = await openResponseStream(call, req.signal);
  return {
    stream: true,
    service: req.service,
    method: req.method,
    header: opened.header,
    trailer: opened.trailer,
    message: opened.messages,
  };
}

/** Writes the request messages of a client or bidi stream, then half-closes it. */
async function sendAll(input: AsyncIterable<AnyMessage>, call: ClientDuplexStream<AnyMessage, AnyMessage>) {
  let over = false;
  call.once('status', () => {
    over = true;
  });
  try {
    for await (const message of input) {
      if (over) return;
      if (!call.write(message)) {
        // Backpressure: wait until grpc-js drained its buffer, or the call is over.
        await new Promise<void>((resolve) => {
          const go = () => {
            call.off('drain', go);
            call.off('status', go);
            resolve();
          };
          call.on('drain', go);
          call.on('status', go);
        });
      }
    }
    if (!over) call.end();
  } catch {
    // The request stream failed (or was ended by the call's abort): the call cannot go on.
    call.cancel();
  }
}
