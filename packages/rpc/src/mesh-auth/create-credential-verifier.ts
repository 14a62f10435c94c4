import { create } from '@bufbuild/protobuf';
import { Code } from '@connectrpc/connect';
import { type Clock, systemClock } from '@toolmesh/clock';
import { PrincipalSchema } from '@toolmesh/proto';
import { publicError } from '../error-details.ts';
import { JwsError, verifyCompactJws } from './compact-jws.ts';
import { meshAlgorithms } from './create-credential-issuer.ts';
import type { MeshCredential } from './mesh-credential.ts';
import type { KeyResolver } from './verification-keys.ts';

/** Options of {@link createCredentialVerifier}. */
export interface CredentialVerifierOptions {
  /** The mesh's public keys. */
  keys: KeyResolver;
  /** Issuers whose credentials this service accepts, e.g. only the orchestrator for a tool service. */
  issuers: readonly string[];
  /** Whether a credential for `audience` is meant for this service. */
  acceptsAudience: (audience: string) => boolean;
  clock?: Clock;
  /** Allowed clock difference between signer and verifier; default 5 s. */
  clockToleranceSeconds?: number;
}

/** Verifies mesh credentials. */
export interface CredentialVerifier {
  /** The verified credential; throws UNAUTHENTICATED (a public message only) when it is not good here. */
  verify(token: string): Promise<MeshCredential>;
}

const unauthenticated = (why: string) => publicError(Code.Unauthenticated, `mesh credential ${why}`);
const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
const optional = (v: unknown) => (typeof v === 'string' ? v : undefined);

/**
 * Checks a credential's signature (against the key its `kid` names), algorithm, expiry,
 * issuer and audience, and that the key belongs to the issuer: key ids are `<issuer>/<id>`,
 * so the gateway's key cannot sign for the orchestrator.
 */
export function createCredentialVerifier(options: CredentialVerifierOptions): CredentialVerifier {
  const clock = options.clock ?? systemClock;
  return {
    async verify(token) {
      let verified: Awaited<ReturnType<typeof verifyCompactJws>>;
      try {
        verified = await verifyCompactJws(token, options.keys, {
          algorithms: meshAlgorithms,
          issuers: options.issuers,
          now: clock.now() / 1000,
          clockToleranceSeconds: options.clockToleranceSeconds ?? 5,
        });
      } catch (error) {
        if (!(error instanceof JwsError)) throw error;
        if (error.reason === 'expired') throw unauthenticated('expired');
        if (error.reason === 'claim') throw unauthenticated(`rejected: ${error.claim}`);
        throw unauthenticated('not valid');
      }
      const { payload, header: protectedHeader } = verified;
      const issuer = payload.iss;
      if (!protectedHeader.kid?.startsWith(`${issuer}/`))
        throw unauthenticated('signed with a key of another issuer');
      const audiences: unknown[] = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
      const audience = audiences.length === 1 && typeof audiences[0] === 'string' ? audiences[0] : undefined;
      if (!audience || !options.acceptsAudience(audience))
        throw unauthenticated('not meant for this service');
      const tenantId = payload.tenant_id;
      if (!payload.sub || typeof tenantId !== 'string' || !tenantId || !strings(payload.permissions)) {
        throw unauthenticated('without a complete principal');
      }
      return {
        principal: create(PrincipalSchema, {
          userId: payload.sub,
          tenantId,
          permissions: payload.permissions,
        }),
        requestId: optional(payload.request_id) ?? '',
        issuer,
        audience,
        tool: optional(payload.tool),
        callId: optional(payload.call_id),
        idempotencyKey: optional(payload.idempotency_key),
        taskId: optional(payload.task_id),
        onBehalfOf: optional(payload.on_behalf_of),
        expiresAt: payload.exp * 1000,
        token,
      };
    },
  };
}
