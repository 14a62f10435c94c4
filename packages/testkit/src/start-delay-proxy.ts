import net from 'node:net';

/** A running fault-injecting TCP proxy. */
export interface DelayProxy {
  /** host:port to connect to instead of the target. */
  readonly address: string;
  /** Delay of each chunk travelling back from the target; change it at any time. */
  responseDelayMs: number;
  /** An outage: every open connection is reset and new ones are refused. */
  cut(): Promise<void>;
  /** Ends the outage: listens again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 that forwards requests at once and holds every
 * response chunk for `responseDelayMs`: the request has reached (and been acted
 * on by) the server while the caller still waits — the window a crash test needs.
 * It can also cut the connection entirely (an outage of what sits behind it).
 */
export async function startDelayProxy(target: string, responseDelayMs = 0): Promise<DelayProxy> {
  const [host, port] = [
    target.slice(0, target.lastIndexOf(':')),
    Number(target.slice(target.lastIndexOf(':') + 1)),
  ];
  const sockets = new Set<net.Socket>();
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
    cut: stopListening,
    restore: listen,
    close: stopListening,
  };
  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port });
    sockets.add(client).add(upstream);
    client.on('data', (chunk) => upstream.write(chunk));
    // Bytes must stay in order even when the delay changes: each chunk leaves no
    // earlier than the one before it.
    let releaseAt = 0;
    upstream.on('data', (chunk) => {
      releaseAt = Math.max(releaseAt, Date.now() + proxy.responseDelayMs);
      setTimeout(() => {
        if (!client.destroyed) client.write(chunk);
      }, releaseAt - Date.now());
    });
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', closeBoth).on('error', closeBoth);
    upstream.on('close', () => setTimeout(closeBoth, proxy.responseDelayMs)).on('error', closeBoth);
  });
  await listen();
  Object.assign(proxy, { address: `127.0.0.1:${listenPort}` });
  return proxy;
}
