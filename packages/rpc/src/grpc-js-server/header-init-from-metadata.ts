import type { Metadata } from '@grpc/grpc-js';

/**
 * The request metadata as the header pairs connect's `Headers` take: binary (`-bin`) values
 * base64-encoded as they were on the wire, one pair per value. Pairs, not a `Headers`, since
 * connect's handler context copies what it is given.
 */
export function headerInitFromMetadata(metadata: Metadata): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    for (const value of values) {
      pairs.push([key, typeof value === 'string' ? value : value.toString('base64')]);
    }
  }
  return pairs;
}
