import { z } from 'zod';

const filePath = z.string().min(1).max(4096);

/**
 * The mutual-TLS variables every service shares, spread into its schema:
 * `TOOLMESH_TLS_CERT_FILE`, `TOOLMESH_TLS_KEY_FILE` and `TOOLMESH_TLS_CA_FILE` (PEM files:
 * this process's certificate chain, its private key, and the CA that signs its peers).
 * All three turn mTLS on for the service's listener and its clients; none leaves every
 * hop plaintext (h2c). Setting only some is an error ({@link tlsSettings} says which).
 */
export const tlsEnv = {
  TOOLMESH_TLS_CERT_FILE: filePath.optional(),
  TOOLMESH_TLS_KEY_FILE: filePath.optional(),
  TOOLMESH_TLS_CA_FILE: filePath.optional(),
};

/** The parsed {@link tlsEnv}. */
export type TlsEnv = z.output<z.ZodObject<typeof tlsEnv>>;

/**
 * Where a process's TLS material lives; the same shape as `TlsSettings` of @toolmesh/rpc,
 * which reads the files (and re-reads them when they change).
 */
export interface TlsSettings {
  /** PEM certificate chain presented to peers. */
  certFile: string;
  /** PEM private key of that certificate. */
  keyFile: string;
  /** PEM bundle of the CA(s) a peer's certificate must be signed by. */
  caFile: string;
}

const names = {
  certFile: 'TOOLMESH_TLS_CERT_FILE',
  keyFile: 'TOOLMESH_TLS_KEY_FILE',
  caFile: 'TOOLMESH_TLS_CA_FILE',
} as const;

/**
 * The parsed {@link tlsEnv}, shaped for `createServer`/`createGrpcClient` of @toolmesh/rpc:
 * undefined when none of the variables is set (plaintext). Throws, naming the missing
 * variables, when only some are set: half a configuration must not silently mean plaintext.
 */
export function tlsSettings(c: TlsEnv): TlsSettings | undefined {
  const given = {
    certFile: c.TOOLMESH_TLS_CERT_FILE,
    keyFile: c.TOOLMESH_TLS_KEY_FILE,
    caFile: c.TOOLMESH_TLS_CA_FILE,
  };
  const keys = Object.keys(names) as (keyof typeof names)[];
  const missing = keys.filter((k) => !given[k]).map((k) => names[k]);
  if (missing.length === keys.length) return undefined;
  if (missing.length > 0) {
    const set = keys.filter((k) => given[k]).map((k) => names[k]);
    throw new Error(
      `invalid TLS configuration: ${set.join(', ')} set but ${missing.join(', ')} not; ` +
        'set all three (certificate, key, CA) for mutual TLS or none for plaintext',
    );
  }
  return given as TlsSettings;
}
