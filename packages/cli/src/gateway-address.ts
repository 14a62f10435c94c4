/** Where the CLI reaches the gateway. */
export interface GatewayAddress {
  /** Base URL for the transports, e.g. "http://127.0.0.1:8080". */
  baseUrl: string;
  /** True for localhost and loopback addresses, where the dev API key is a safe default. */
  loopback: boolean;
  /** True for https: the key and the conversation are encrypted on the way. */
  tls: boolean;
}

// The URL parser has already normalized the host: IPv4 in dotted decimal, IPv6 in brackets.
// Only a whole loopback address counts: "127.example.com" is somebody else's machine.
const isLoopbackHost = (hostname: string) =>
  hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);

/**
 * Parses `--gateway`: "host:port", "host" (port 8080, or 443 with TLS) or a URL.
 * An https URL implies TLS; `tls` turns a bare host:port into https.
 */
export function parseGatewayAddress(input: string, tls: boolean): GatewayAddress {
  const trimmed = input.trim();
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed);
  let url: URL;
  try {
    url = new URL(hasScheme ? trimmed : `${tls ? 'https' : 'http'}://${trimmed}`);
  } catch {
    throw new Error(`invalid gateway address "${input}": expected host:port or a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`invalid gateway address "${input}": only http:// and https:// URLs are supported`);
  }
  if (tls) url.protocol = 'https:';
  if (!url.port && !hasScheme && url.protocol === 'http:') url.port = '8080';
  const path = url.pathname.replace(/\/+$/, '');
  return {
    baseUrl: `${url.protocol}//${url.host}${path}`,
    loopback: isLoopbackHost(url.hostname.toLowerCase()),
    tls: url.protocol === 'https:',
  };
}

/**
 * The warning due before a key goes in clear text (http://, or h2c for gRPC) to a gateway
 * that is not on this machine: anyone on the path can read the key and the conversation.
 * Undefined when the key is safe on the way (https, or loopback).
 */
export function plaintextWarning(address: GatewayAddress): string | undefined {
  if (address.tls || address.loopback) return undefined;
  return (
    `sending the API key unencrypted (plain HTTP) to ${address.baseUrl}, which is not on this machine: ` +
    'anyone on the network path can read the key and the conversation. Use an https:// gateway URL or ' +
    '--tls (or --require-tls / TOOLMESH_REQUIRE_TLS=1 to refuse plain HTTP)'
  );
}
