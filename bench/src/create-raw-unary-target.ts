import { Client, credentials } from '@grpc/grpc-js';
import type { CallTarget } from './call-target.ts';
import { rawEchoService } from './raw-echo-service.ts';

/**
 * Unary calls of pre-encoded bytes with a bare grpc-js client: one channel, no
 * interceptors, no codec. Any gRPC server can be the other end.
 */
export function createRawUnaryTarget(address: string, path: string, payloadBase64: string): CallTarget {
  const client = new Client(address, credentials.createInsecure());
  const payload = Buffer.from(payloadBase64, 'base64');
  const { requestSerialize, responseDeserialize } = rawEchoService.echo;
  return {
    counters: {},
    call: () =>
      new Promise((resolve, reject) => {
        client.makeUnaryRequest(path, requestSerialize, responseDeserialize, payload, (error, value) => {
          if (error) reject(error);
          else if (!value?.length) reject(new Error('empty answer'));
          else resolve();
        });
      }),
    close: async () => client.close(),
  };
}
