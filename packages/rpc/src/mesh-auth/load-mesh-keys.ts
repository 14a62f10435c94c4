import { type Clock, systemClock } from '@toolmesh/clock';
import { type SigningKey, signingKeyFromFile } from './create-credential-issuer.ts';
import { jwksFrom, type KeyResolver } from './verification-keys.ts';
import { createWatchedFile } from './watched-file.ts';

/**
 * The mesh's public keys from a JWKS file or URL, with a file read once now: a wrong path or an
 * unmounted ConfigMap stops the start with a clear message instead of a SERVING process whose
 * every call fails. The file is re-read on change afterwards; a URL is fetched on first use.
 */
export async function loadVerificationKeys(
  source: { file: string } | { url: string },
  clock: Clock = systemClock,
): Promise<KeyResolver> {
  if ('file' in source) {
    const check = createWatchedFile({
      path: source.file,
      clock,
      parse: (text) => {
        const keys = (JSON.parse(text) as { keys?: unknown }).keys;
        if (!Array.isArray(keys) || keys.length === 0) throw new Error('no keys in it');
      },
    });
    await check.current().catch((error: unknown) => {
      throw new Error(`mesh JWKS ${source.file} unusable: ${(error as Error).message}`);
    });
  }
  return jwksFrom(source, clock);
}

/** This service's signing key from its file, read once now (same reason), then re-read on change. */
export async function loadSigningKey(
  path: string,
  clock: Clock = systemClock,
): Promise<() => Promise<SigningKey>> {
  const signingKey = signingKeyFromFile({ path, clock });
  await signingKey().catch((error: unknown) => {
    throw new Error(`mesh signing key ${path} unusable: ${(error as Error).message}`);
  });
  return signingKey;
}
