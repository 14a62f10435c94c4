import { z } from 'zod';

/**
 * The mesh credential variables, spread into a service's schema: where the mesh's public keys
 * are (`TOOLMESH_MESH_JWKS_FILE`, a mounted JWKS re-read on change, or `TOOLMESH_MESH_JWKS_URL`)
 * and, for the services that sign (gateway, orchestrator), `TOOLMESH_MESH_KEY_FILE`: their own
 * private JWK. `npm start` generates all of them.
 */
export const meshAuthEnv = {
  TOOLMESH_MESH_JWKS_FILE: z.string().min(1).optional(),
  TOOLMESH_MESH_JWKS_URL: z.url().optional(),
  TOOLMESH_MESH_KEY_FILE: z.string().min(1).optional(),
};

type MeshAuthEnv = z.output<z.ZodObject<typeof meshAuthEnv>>;

/** Where the mesh's public keys are: a JWKS file (re-read on change) or a JWKS URL. */
export type JwksSource = { file: string } | { url: string };

/** Where a service finds the mesh's keys. */
export interface MeshAuthSettings {
  /** Public keys of the mesh's issuers; absent for a service that only signs. */
  jwks?: JwksSource;
  /** This service's private signing key (JWK file); only the gateway and the orchestrator sign. */
  signingKeyFile?: string;
}

/** The settings of a service that verifies callers (and may sign). */
export type VerifyingMeshAuth = MeshAuthSettings & { jwks: JwksSource };
/** The settings of a service that signs. */
export type SigningMeshAuth = MeshAuthSettings & { signingKeyFile: string };

/**
 * The parsed {@link meshAuthEnv}. A service that verifies callers cannot run without the
 * public keys, and one that signs cannot run without its key: both refuse to start, naming
 * the variable, rather than serve without zero trust.
 */
export function meshAuthSettings(
  c: MeshAuthEnv,
  needs: { verify: true; sign: true },
): VerifyingMeshAuth & SigningMeshAuth;
export function meshAuthSettings(c: MeshAuthEnv, needs: { verify: true; sign: false }): VerifyingMeshAuth;
export function meshAuthSettings(c: MeshAuthEnv, needs: { verify: false; sign: true }): SigningMeshAuth;
export function meshAuthSettings(
  c: MeshAuthEnv,
  needs: { verify: boolean; sign: boolean },
): MeshAuthSettings {
  const jwks: JwksSource | undefined = c.TOOLMESH_MESH_JWKS_FILE
    ? { file: c.TOOLMESH_MESH_JWKS_FILE }
    : c.TOOLMESH_MESH_JWKS_URL
      ? { url: c.TOOLMESH_MESH_JWKS_URL }
      : undefined;
  if (needs.verify && !jwks) {
    throw new Error(
      'TOOLMESH_MESH_JWKS_FILE or TOOLMESH_MESH_JWKS_URL is required: without the mesh public keys no caller can be verified (npm start generates them)',
    );
  }
  if (needs.sign && !c.TOOLMESH_MESH_KEY_FILE) {
    throw new Error(
      'TOOLMESH_MESH_KEY_FILE is required: this service signs the credentials of the calls it makes',
    );
  }
  return {
    ...(jwks ? { jwks } : {}),
    ...(c.TOOLMESH_MESH_KEY_FILE ? { signingKeyFile: c.TOOLMESH_MESH_KEY_FILE } : {}),
  };
}
