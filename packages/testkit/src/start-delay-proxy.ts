import net from 'node:net';

/** A running fault-injecting TCP proxy. */
export interface DelayProxy {
  /** host:port to connect to instead of the target. */
  readonly address: string;
  /** Delay of each chunk travelling back from the target; change it at any time. */
  responseDelayMs: number;
  /**
   * Holds every response chunk back until {@link DelayProxy.release}: the target
   * has acted on the requests, the callers hear nothing (a tool that stops answering).
   */
  hold(): void;
  /** Sends what was held back, in order, and lets responses flow again. */
  release(): void;
  /** Response chunks held back or delayed right now. */
  readonly held: number;
  /** Connections accepted since the start. */
  readonly connections: number;
  /** An outage: every open connection is reset and new ones are refused. */
  cut(): Promise<void>;
  /** Ends the outage: listens again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 that forwards requests at once and holds every
 * response chunk for `responseDelayMs` (or until released): the request has
 * reached (and been acted on by) the server while the caller still waits — the
 * window a crash test needs. It can also cut the connection entirely (an outage
 * of what sits behind it).
 */
export async function startDelayProxy(target: string, responseDelayMs = 0): Promise<DelayProxy> {
  const [host, port] = [
    target.slice(0, target.lastIndexOf(':')),
    Number(target.slice(target.lastIndexOf(':') + 1)),
  ];
  const sockets = new Set<net.Socket>();
  // Every connection's pump, so release() can restart them all.
  const pumps = new Set<() => void>();
  let held = 0;
  let holding = false;
  let connections = 0;
  const stopListening = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (!server.listening) resolve();
      else server.close(() => resolve());
    });
  let listenPort = 0;
  const listen = () =>
    new Promise<void>((resolve) =>
      server.listen(listenPort, '127.0.0.1', () => {
        listenPort = (server.address() as net.AddressInfo).port;
        resolve();
      }),
    );
  const proxy: DelayProxy = {
    address: '',
    responseDelayMs,
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const pump of pumps) pump();
    },
    get held() {
      return held;
    },
    get connections() {
      return connections;
    },
    cut: stopListening,
    restore: listen,
    close: stopListening,
  };
  const server = net.createServer((client) => {
    connections++;
    const upstream = net.connect({ host, port });
    sockets.add(client).add(upstream);
    client.on('data', (chunk) => upstream.write(chunk));
    // Bytes must stay in order even when the delay changes: a chunk leaves only
    // after the one before it, and never before its own due time.
    const queue: { chunk: Buffer; due: number }[] = [];
    let timer: NodeJS.Timeout | undefined;
    let upstreamClosed = false;
    const pump = () => {
      clearTimeout(timer);
      timer = undefined;
      while (queue.length && !holding) {
        const head = queue[0] as { chunk: Buffer; due: number };
        const wait = head.due - Date.now();
        if (wait > 0) {
          timer = setTimeout(pump, wait);
          return;
        }
        queue.shift();
        held--;
        if (!client.destroyed) client.write(head.chunk);
      }
      if (!queue.length && upstreamClosed) closeBoth();
    };
    pumps.add(pump);
    upstream.on('data', (chunk: Buffer) => {
      queue.push({ chunk, due: Date.now() + proxy.responseDelayMs });
      held++;
      if (!timer) pump();
    });
    const closeBoth = () => {
      clearTimeout(timer);
      held -= queue.splice(0).length;
      pumps.delete(pump);
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', closeBoth).on('error', closeBoth);
    // What the target sent before it closed still reaches the caller first.
    upstream
      .on('close', () => {
        upstreamClosed = true;
        pump();
      })
      .on('error', closeBoth);
  });
  await listen();
  Object.assign(proxy, { address: `127.0.0.1:${listenPort}` });
  return proxy;
}
