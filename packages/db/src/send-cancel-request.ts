import net from 'node:net';

/** The backend a {@link sendCancelRequest} is for: where it listens and the key it gave at startup. */
export interface CancelTarget {
  /** Host name, address, or a Unix socket directory (starting with "/"). */
  host: string;
  port: number;
  processID: number;
  secretKey: number;
}

/** CancelRequest code (1234 << 16 | 5678), protocol 3.0. */
const CANCEL_REQUEST_CODE = 80877102;
/** A cancel is one packet the server answers by closing; a silent server must not hold the socket. */
const CANCEL_SOCKET_TIMEOUT_MS = 5_000;

/**
 * Asks Postgres to cancel whatever that backend runs right now: a new connection sending
 * a CancelRequest with the backend's key, as libpq's PQcancel does. Fire and forget: the
 * answer (if any) is the statement failing on its own connection; a failure to deliver
 * the request is not the caller's error, the statement_timeout ceiling still holds.
 */
export function sendCancelRequest(target: CancelTarget): void {
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  packet.writeInt32BE(target.processID, 8);
  packet.writeInt32BE(target.secretKey, 12);
  const socket = target.host.startsWith('/')
    ? net.connect(`${target.host}/.s.PGSQL.${target.port}`)
    : net.connect(target.port, target.host);
  socket.setTimeout(CANCEL_SOCKET_TIMEOUT_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('connect', () => socket.end(packet));
  // The server closes once it has read the packet; nothing is read back.
  socket.on('data', () => {});
}
