import { isIP } from 'node:net';
import tls from 'node:tls';
import type { TlsMaterial } from '@toolmesh/rpc';

/** Options of {@link peerCertificateNames}. */
export interface PeerCertificateOptions {
  /** SNI and the name the certificate must carry when not the address's host (as the tool clients use). */
  serverName?: string;
  /** Gives up on a handshake after this long; default 5 s. */
  timeoutMs?: number;
}

const hostOf = (address: string) => address.slice(0, address.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1');

/**
 * The names (subject CN and DNS subject alternative names) of the certificate a tool service
 * presents, after a mutual-TLS handshake with the mesh's CA, certificate and key — the chain
 * and the host name (or `serverName`) verified as the tool clients verify them. Rejects when
 * the handshake fails. The registry matches the names against the service the endpoint is
 * registered under in discovery.
 */
export function peerCertificateNames(
  address: string,
  material: Pick<TlsMaterial, 'ca' | 'cert' | 'key'>,
  options: PeerCertificateOptions = {},
): Promise<string[]> {
  const host = hostOf(address);
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      ca: material.ca,
      cert: material.cert,
      key: material.key,
      ALPNProtocols: ['h2'],
      rejectUnauthorized: true,
      // SNI takes names only; the certificate is checked against the expected name either way.
      ...(options.serverName || isIP(host) === 0 ? { servername: options.serverName ?? host } : {}),
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(options.serverName ?? host, cert),
    });
    socket.setTimeout(options.timeoutMs ?? 5_000, () =>
      socket.destroy(new Error(`TLS handshake with ${address} timed out`)),
    );
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      const names = new Set<string>();
      const cn = cert.subject?.CN;
      for (const name of Array.isArray(cn) ? cn : cn ? [cn] : []) names.add(name);
      for (const entry of (cert.subjectaltname ?? '').split(',')) {
        const [kind, value] = entry.trim().split(':');
        if (kind === 'DNS' && value) names.add(value);
      }
      socket.destroy();
      resolve([...names]);
    });
  });
}

/**
 * Whether a certificate's names vouch for `service`: a name equal to it, or whose first DNS
 * label is it (`order.toolmesh.svc.cluster.local` vouches for `order`).
 */
export function certificateNamesService(names: readonly string[], service: string): boolean {
  return names.some((name) => name === service || name.split('.')[0] === service);
}
