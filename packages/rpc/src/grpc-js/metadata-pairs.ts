import type { Metadata } from '@grpc/grpc-js';

/**
 * grpc-js metadata as header pairs, one per value, binary (`-bin`) values base64-encoded as
 * connect shows them (`decodeBinaryHeader` reads them back). Pairs, not a `Headers`, so a
 * caller that copies them (connect's handler context) builds one `Headers`, not two.
 */
export function metadataPairs(metadata: Metadata): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    for (const value of values) {
      pairs.push([key, typeof value === 'string' ? value : value.toString('base64')]);
    }
  }
  return pairs;
}

/**
 * Adds one header to grpc-js metadata: a `-bin` header's base64 values (several joined by ", ",
 * as connect writes them) as bytes, since grpc-js encodes them itself; any other as is. Throws
 * what grpc-js throws for a value it cannot send (not printable ASCII).
 */
export function addHeaderToMetadata(metadata: Metadata, key: string, value: string): void {
  if (key.endsWith('-bin')) {
    for (const part of value.split(',')) metadata.add(key, Buffer.from(part.trim(), 'base64'));
  } else {
    metadata.add(key, value);
  }
}
