import type { ConnectError } from '@connectrpc/connect';
import type { ClientReadableStream, Metadata, ServiceError, StatusObject } from '@grpc/grpc-js';
import { connectErrorFromStatus } from './connect-error-from-status.ts';
import { metadataToHeaders } from './metadata-to-headers.ts';

/** An opened server stream: its response headers, and its messages and trailers to come. */
export interface ResponseStream<T> {
  header: Headers;
  /** Filled when the stream ends. */
  trailer: Headers;
  messages: AsyncIterable<T>;
}

// Messages taken off the connection ahead of the reader; past this grpc-js stops reading, and
// HTTP/2 flow control holds the server back.
const readAhead = 16;

/**
 * Waits for a grpc-js stream call's response headers and reads its messages as an async
 * iterable, as connect-node's gRPC transport does: a call the server refuses without a
 * message (trailers only: an error status, or a stream refused before it started) fails here,
 * not at the first read; messages that came before a failure are all read before its error.
 * `signal` cancels the call.
 */
export async function openResponseStream<T>(
  call: ClientReadableStream<T>,
  signal: AbortSignal,
): Promise<ResponseStream<T>> {
  const trailer = new Headers();
  const queue: T[] = [];
  let headerMetadata: Metadata | undefined;
  let failure: ConnectError | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const changed = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
    });
  const cancel = () => call.cancel();
  signal.addEventListener('abort', cancel);
  call.on('metadata', (metadata: Metadata) => {
    headerMetadata = metadata;
    notify();
  });
  call.on('data', (message: T) => {
    queue.push(message);
    if (queue.length >= readAhead) call.pause();
    notify();
  });
  // grpc-js emits the error (with the trailers) when the status comes, ahead of the messages
  // still buffered; "end" follows once they are all delivered.
  call.on('error', (error: ServiceError) => {
    failure = connectErrorFromStatus(error, error);
    notify();
  });
  call.on('status', (status: StatusObject) => {
    metadataToHeaders(status.metadata, trailer);
  });
  const end = () => {
    ended = true;
    signal.removeEventListener('abort', cancel);
    notify();
  };
  call.on('end', end);
  // Destroyed without an end (should grpc-js ever do so): nothing more will come.
  call.on('close', end);
  if (signal.aborted) cancel();

  while (!headerMetadata && !failure && !ended) await changed();
  if (!headerMetadata && failure) {
    signal.removeEventListener('abort', cancel);
    throw failure;
  }

  async function* messages(): AsyncGenerator<T> {
    try {
      for (;;) {
        if (queue.length > 0) {
          const message = queue.shift() as T;
          if (queue.length < readAhead / 2 && call.isPaused()) call.resume();
          yield message;
        } else if (ended) {
          if (failure) throw failure;
          return;
        } else {
          if (call.isPaused()) call.resume();
          await changed();
        }
      }
    } finally {
      // A reader that stops early: the server need not send the rest.
      if (!ended) {
        signal.removeEventListener('abort', cancel);
        call.cancel();
      }
    }
  }
  return { header: metadataToHeaders(headerMetadata), trailer, messages: messages() };
}
