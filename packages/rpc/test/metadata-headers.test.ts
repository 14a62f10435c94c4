import { Metadata } from '@grpc/grpc-js';
import { metadataPairs } from '../src/grpc-js/metadata-pairs.ts';
import { metadataHeaders } from '../src/grpc-js-server/metadata-headers.ts';

function sample(): Metadata {
  const metadata = new Metadata();
  metadata.add('authorization', 'Bearer abc.def.ghi');
  metadata.add('x-request-id', 'req_1');
  metadata.add('x-several', 'one');
  metadata.add('x-several', 'two');
  metadata.add('x-trace-bin', Buffer.from([0, 1, 2, 250]));
  metadata.add('x-padded', '  spaced ');
  return metadata;
}

describe('metadataHeaders', () => {
  const names = [
    'authorization',
    'Authorization',
    'x-request-id',
    'x-several',
    'x-trace-bin',
    'x-padded',
    'missing',
  ];

  it('answers get and has as a Headers copy of the metadata would', () => {
    const headers = metadataHeaders(sample());
    const copy = new Headers(metadataPairs(sample()));
    for (const name of names) {
      expect([name, headers.get(name)]).toEqual([name, copy.get(name)]);
      expect([name, headers.has(name)]).toEqual([name, copy.has(name)]);
    }
    expect(headers.get('x-several')).toBe('one, two');
    expect(headers.get('x-padded')).toBe('spaced');
    expect(headers.get('missing')).toBeNull();
  });

  it('iterates as the copy does, and passes itself to forEach', () => {
    const headers = metadataHeaders(sample());
    const copy = new Headers(metadataPairs(sample()));
    expect([...headers]).toEqual([...copy]);
    expect([...headers.keys()]).toEqual([...copy.keys()]);
    expect([...headers.values()]).toEqual([...copy.values()]);
    expect([...headers.entries()]).toEqual([...copy.entries()]);
    const seen: [string, string, boolean][] = [];
    headers.forEach((value, key, parent) => {
      seen.push([key, value, parent === headers]);
    });
    expect(seen).toEqual([...copy].map(([key, value]) => [key, value, true]));
    expect(new Headers(headers).get('x-several')).toBe('one, two');
  });

  it('reads its own changes once changed, and leaves the metadata alone', () => {
    const metadata = sample();
    const headers = metadataHeaders(metadata);
    headers.set('x-request-id', 'req_2');
    headers.append('x-added', 'yes');
    headers.delete('authorization');
    expect(headers.get('x-request-id')).toBe('req_2');
    expect(headers.get('x-added')).toBe('yes');
    expect(headers.has('authorization')).toBe(false);
    expect(metadata.get('x-request-id')).toEqual(['req_1']);
    expect(metadata.get('authorization')).toEqual(['Bearer abc.def.ghi']);
  });
});
