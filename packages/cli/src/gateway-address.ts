/** Where the CLI reaches the gateway. */
export interface GatewayAddress {
  /** Base URL for the transports, e.g. "http://127.0.0.1:8080". */
  baseUrl: string;
  /** True for localhost and loopback addresses, where the dev API key is a safe default. */
  loopback: boolean;
}

const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

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
    loopback: loopbackHosts.has(url.hostname) || url.hostname.startsWith('127.'),
  };
}
