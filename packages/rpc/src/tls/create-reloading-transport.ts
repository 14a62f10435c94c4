import type { DescMessage, DescMethodStreaming, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { ContextValues, StreamResponse, Transport } from '@connectrpc/connect';
import type { Clock } from '@toolmesh/clock';
import type { TlsFiles, TlsMaterial } from './create-tls-files.ts';
import { tlsCallFailure } from './tls-call-failure.ts';
import { defaultTlsCheckIntervalMs } from './tls-settings.ts';

/** A transport and a way to drop its connection, built over one version of the TLS files. */
export interface BuiltTransport {
  transport: Transport;
  /** Closes the connection; called once nothing runs on it any more. */
  close(): void;
}

/** Options of {@link createReloadingTransport}. */
export interface ReloadingTransportOptions {
  /** host:port dialled, for error messages. */
  address: string;
  files: TlsFiles;
  /** When the files were last looked at is measured on this clock. */
  clock: Clock;
  /** How long a look at the files stays good; default 10 s. */
  checkIntervalMs?: number;
  /** Builds a transport that connects with the given material. */
  build(material: TlsMaterial): BuiltTransport;
}

interface Generation {
  built: BuiltTransport;
  version: number;
  active: number;
  retired: boolean;
}

/**
 * A transport whose new connections use the TLS files as they are now. A connection
 * authenticates once, at its handshake, and a client keeps one connection per server
 * for as long as it can, so rotated files matter only to connections still to come:
 * when a call finds the files changed (looked at again at most once per check interval,
 * on the call's own path, so an idle client costs no timer), it builds a new transport
 * over them, which dials a new connection, and retires the old one. Calls already
 * running on the old connection finish there; it is closed when the last of them ends.
 */
export function createReloadingTransport(options: ReloadingTransportOptions): Transport & { close(): void } {
  const { files, clock } = options;
  const checkIntervalMs = options.checkIntervalMs ?? defaultTlsCheckIntervalMs;
  const make = (): Generation => {
    const material = files.current();
    return { built: options.build(material), version: material.version, active: 0, retired: false };
  };
  let current = make();
  let checkedAt = clock.now();

  const release = (generation: Generation) => {
    generation.active -= 1;
    if (generation.retired && generation.active === 0) generation.built.close();
  };

  const take = (): Generation => {
    const now = clock.now();
    if (now - checkedAt >= checkIntervalMs) {
      checkedAt = now;
      files.refresh();
    }
    if (files.current().version !== current.version) {
      const old = current;
      current = make();
      old.retired = true;
      if (old.active === 0) old.built.close();
    }
    current.active += 1;
    return current;
  };

  return {
    /** Closes the connection once the calls running on it ended (the server left discovery). */
    close() {
      current.retired = true;
      if (current.active === 0) current.built.close();
    },
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      const generation = take();
      try {
        return await generation.built.transport.unary(
          method,
          signal,
          timeoutMs,
          header,
          input,
          contextValues,
        );
      } catch (error) {
        throw tlsCallFailure(error, options.address, signal);
      } finally {
        release(generation);
      }
    },
    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: Parameters<Transport['stream']>[3],
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ): Promise<StreamResponse<I, O>> {
      const generation = take();
      let response: StreamResponse<I, O>;
      try {
        response = await generation.built.transport.stream(
          method,
          signal,
          timeoutMs,
          header,
          input,
          contextValues,
        );
      } catch (error) {
        release(generation);
        throw tlsCallFailure(error, options.address, signal);
      }
      const messages = response.message;
      // The call lasts as long as its responses are read; a reader that walks away without
      // ending the iteration leaves the old connection to the transport's idle timeout.
      async function* track(): AsyncGenerator<MessageShape<O>> {
        try {
          yield* messages;
        } catch (error) {
          throw tlsCallFailure(error, options.address, signal);
        } finally {
          release(generation);
        }
      }
      return { ...response, message: track() };
    },
  };
}
