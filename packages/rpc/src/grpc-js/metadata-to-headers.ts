import type { Metadata } from '@grpc/grpc-js';

/**
 * grpc-js metadata (response headers, trailers) as the `Headers` connect hands to interceptors
 * and callers: binary values base64-encoded, as connect-node shows them (`decodeBinaryHeader`
 * reads them back).
 */
export function metadataToHeaders(metadata: Metadata | undefined, into: Headers = new Headers()): Headers {
  if (!metadata) return into;
  const entries = metadata.toJSON();
  for (const key in entries) {
    for (const value of entries[key] ?? []) {
      into.append(key, typeof value === 'string' ? value : value.toString('base64'));
    }
  }
  return into;
}
