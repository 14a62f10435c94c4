import { Client, credentials, Metadata } from '@grpc/grpc-js';
import { createToolCredentials } from '@toolmesh/orchestrator';
import { createBenchIssuer } from './bench-mesh-keys.ts';
import { benchPrincipal } from './bench-principal.ts';
import type { CallTarget } from './call-target.ts';
import type { RawCallCredential } from './load-job.ts';
import { rawEchoService } from './raw-echo-service.ts';

// Well inside the credential's 60 s lifetime (and the verifier's 5 s clock tolerance).
const resignAfterMs = 30_000;

/**
 * Unary calls of pre-encoded bytes with a bare grpc-js client: one channel, no
 * interceptors, no codec. Any gRPC server can be the other end. With `credential`,
 * every call carries the orchestrator's credential for the call in the bytes.
 */
export function createRawUnaryTarget(
  address: string,
  path: string,
  payloadBase64: string,
  credential?: RawCallCredential,
): CallTarget {
  const client = new Client(address, credentials.createInsecure());
  const payload = Buffer.from(payloadBase64, 'base64');
  const { requestSerialize, responseDeserialize } = rawEchoService.echo;
  const signer = credential
    ? {
        credentials: createToolCredentials(createBenchIssuer(credential.signingKeyFile), {
          isReadTool: () => true,
        }),
        metadata: new Metadata(),
        signedAt: Number.NEGATIVE_INFINITY,
      }
    : undefined;
  const send = (md: Metadata) =>
    new Promise<void>((resolve, reject) => {
      client.makeUnaryRequest(path, requestSerialize, responseDeserialize, payload, md, (error, value) => {
        if (error) reject(error);
        else if (!value?.length) reject(new Error('empty answer'));
        else resolve();
      });
    });
  const signed = async (): Promise<void> => {
    if (!signer || !credential) return;
    if (performance.now() - signer.signedAt > resignAfterMs) {
      const headers = await signer.credentials.forCall({
        principal: benchPrincipal,
        requestId: 'bench',
        toolName: credential.toolName,
        toolCallId: credential.toolCallId,
        idempotencyKey: credential.idempotencyKey,
      });
      const next = new Metadata();
      for (const [key, value] of Object.entries(headers)) next.set(key, value);
      signer.metadata = next;
      signer.signedAt = performance.now();
    }
  };
  return {
    counters: {},
    // Without a credential exactly the bare call (grpc-js makes an empty Metadata itself).
    call: signer
      ? async () => {
          await signed();
          return send(signer.metadata.clone());
        }
      : () => send(new Metadata()),
    close: async () => client.close(),
  };
}
