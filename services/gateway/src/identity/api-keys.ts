import { createHash } from 'node:crypto';
import { z } from 'zod';

const principalSchema = z.object({
  user_id: z.string().min(1).max(256),
  tenant_id: z.string().min(1).max(256),
  permissions: z.array(z.string().min(1)),
});

/** The principal an API key stands for, as written in TOOLMESH_API_KEYS. */
export type ApiKeyPrincipal = z.infer<typeof principalSchema>;

/**
 * API keys and the principal each one stands for. A key is either the key itself (16 or more
 * characters, not shaped like a JWT) or `sha256:<64 hex digits>`, the SHA-256 of the key, so
 * that the Secret need not hold the plaintext.
 */
export type ApiKeys = Record<string, ApiKeyPrincipal>;

/** Three base64url parts separated by dots (the last may be empty: alg "none"). */
export const jwtShape = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

const hashedKey = /^sha256:[0-9a-fA-F]{64}$/;

// What is wrong with a configured key, if anything (never the key itself).
const keyProblem = (key: string): string | undefined => {
  if (hashedKey.test(key)) return undefined;
  if (key.startsWith('sha256:')) return 'a hashed key is sha256: and 64 hex digits';
  if (key.length < 16) return 'api keys must have at least 16 characters';
  // The gateway sends anything shaped like a JWT to the JWT verifier.
  if (jwtShape.test(key) || /\s/.test(key)) return 'an api key must not look like a JWT or contain spaces';
  return undefined;
};

/**
 * Parses the JSON of TOOLMESH_API_KEYS (`{"<key or sha256:hex>": {user_id, tenant_id,
 * permissions}}`); blank text is an empty map. Throws saying what is wrong and in which
 * entry (by position), never with a key.
 */
export function parseApiKeys(text: string): ApiKeys {
  if (text.trim() === '') return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('not valid JSON');
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    throw new Error('expected a JSON object of API keys');
  }
  const keys: ApiKeys = {};
  const problems: string[] = [];
  Object.entries(json).forEach(([key, value], i) => {
    const keyIssue = keyProblem(key);
    if (keyIssue) problems.push(`entry ${i + 1}: ${keyIssue}`);
    const parsed = principalSchema.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        problems.push(`entry ${i + 1} ${issue.path.map(String).join('.') || 'value'}: ${issue.message}`);
      }
    } else if (!keyIssue) {
      keys[key] = parsed.data;
    }
  });
  if (problems.length) throw new Error(problems.join('; '));
  return keys;
}

/** The hex SHA-256 of a key a caller presents; always hashed, whatever it looks like. */
export function presentedKeyDigest(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The hex SHA-256 under which a configured key is stored (given, or computed from the key). */
export function storedKeyDigest(key: string): string {
  return hashedKey.test(key) ? key.slice('sha256:'.length).toLowerCase() : presentedKeyDigest(key);
}
