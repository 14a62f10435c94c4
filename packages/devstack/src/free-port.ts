import net from 'node:net';

// Below Linux's ephemeral range (32768–60999): ports the kernel hands to outgoing connections and to
// every listen(0) elsewhere on the machine are not picked here, so a mesh's port stays free between
// being chosen and being listened on (and while a crashed service restarts on it).
const low = 20_000;
const high = 32_768;
// Handed out by this process: a port chosen for one service is not chosen again for another.
const given = new Set<number>();

const tryListen = (port: number) =>
  new Promise<number | undefined>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as net.AddressInfo;
      server.close(() => resolve(bound));
    });
  });

/** A TCP port on 127.0.0.1 that was free a moment ago, chosen outside the ephemeral range. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const candidate = low + Math.floor(Math.random() * (high - low));
    if (given.has(candidate)) continue;
    given.add(candidate);
    const port = await tryListen(candidate);
    if (port) return port;
  }
  const any = await tryListen(0);
  if (!any) throw new Error('no free TCP port on 127.0.0.1');
  return any;
}
