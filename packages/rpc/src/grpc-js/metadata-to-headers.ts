import type { Metadata } from '@grpc/grpc-js';
import { metadataPairs } from './metadata-pairs.ts';

/**
 * grpc-js metadata (response headers, trailers) as the `Headers` connect hands to interceptors
 * and callers: binary values base64-encoded, as connect-node shows them (`decodeBinaryHeader`
 * reads them back).
 */
export function metadataToHeaders(metadata: Metadata | undefined, into: Headers = new Headers()): Headers {
  if (!metadata) return into;
  for (const [key, value] of metadataPairs(metadata)) into.append(key, value);
  return into;
}
