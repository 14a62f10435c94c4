import { Metadata } from '@grpc/grpc-js';
import { addHeaderToMetadata } from '../grpc-js/metadata-pairs.ts';

// Written by grpc-js itself from the status it sends, or not metadata at all.
const protocolKeys = new Set(['grpc-status', 'grpc-message', 'content-type', 'te']);

/**
 * Response headers or trailers a handler or interceptor set (Fetch `Headers`) as grpc-js
 * metadata: `-bin` values decoded from base64 (grpc-js encodes them again), the rest as is.
 * A value grpc-js would refuse (not printable ASCII) is left out rather than failing the call.
 */
export function metadataFromHeaders(headers: Headers, into: Metadata = new Metadata()): Metadata {
  headers.forEach((value, key) => {
    if (protocolKeys.has(key)) return;
    try {
      addHeaderToMetadata(into, key, value);
    } catch {
      // An illegal value: the rest of the metadata still goes out.
    }
  });
  return into;
}
