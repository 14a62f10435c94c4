import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimPidFile } from './pid-file.ts';

// Below Linux's ephemeral range (32768–60999): ports the kernel hands to outgoing connections and to
// every listen(0) elsewhere on the machine are not picked here.
const low = 20_000;
const high = 32_768;
// A chosen port stays free only until its service listens, seconds later; meshes of parallel test
// processes would pick each other's ports in that window. So every choice is claimed machine-wide by a
// file holding the chooser's pid, honoured while that process lives.
const claims = join(tmpdir(), 'toolmesh-ports');

const claim = (port: number): boolean => claimPidFile(join(claims, String(port)));

const tryListen = (port: number) =>
  new Promise<number | undefined>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as net.AddressInfo;
      server.close(() => resolve(bound));
    });
  });

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, outside the ephemeral range, and not
 * handed out to any other live process on this machine (nor twice to this one).
 */
export async function freePort(): Promise<number> {
  mkdirSync(claims, { recursive: true });
  for (let attempt = 0; attempt < 100; attempt++) {
    const candidate = low + Math.floor(Math.random() * (high - low));
    if (!claim(candidate)) continue;
    const port = await tryListen(candidate);
    if (port) return port;
  }
  const any = await tryListen(0);
  if (!any) throw new Error('no free TCP port on 127.0.0.1');
  return any;
}
