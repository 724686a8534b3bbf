import { createHash, randomBytes } from 'node:crypto';
import type { KeyStore, Scope } from '../store/key-store';

/** Accepted as tenant `local` with every scope when AUTH_MODE=local, and only then. */
export const DEV_API_KEY = 'test-api-key-12345';

const KEY_PREFIX = 'tk_';
const KEY_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const KEY_ID_LENGTH = 16;
// tk_<key_id>_<secret>: the key id is alphanumeric, so the first `_` after it ends it.
const KEY_PATTERN = /^tk_([A-Za-z0-9]{16})_([A-Za-z0-9_-]{43})$/;

export interface ParsedApiKey {
  keyId: string;
  secret: string;
}

export function parseApiKey(raw: string): ParsedApiKey | undefined {
  const match = KEY_PATTERN.exec(raw);
  if (!match) return undefined;
  return { keyId: match[1] as string, secret: match[2] as string };
}

/** Hex SHA-256: the only form in which a secret is stored or compared. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export interface GeneratedApiKey {
  apiKey: string;
  keyId: string;
  secretHash: string;
}

/** A new key: a 16-character id and a 256-bit random secret. */
export function generateApiKey(): GeneratedApiKey {
  let keyId = '';
  while (keyId.length < KEY_ID_LENGTH) {
    for (const byte of randomBytes(KEY_ID_LENGTH)) {
      // Bytes of 248 and up are skipped, so that each of the 62 characters is equally likely.
      if (byte < 248 && keyId.length < KEY_ID_LENGTH) keyId += KEY_ID_ALPHABET[byte % KEY_ID_ALPHABET.length];
    }
  }
  const secret = randomBytes(32).toString('base64url');
  return { apiKey: `${KEY_PREFIX}${keyId}_${secret}`, keyId, secretHash: hashSecret(secret) };
}

/** Who a new key acts for: its tenant, the only source it may send (null: any), its scopes. */
export interface KeyGrant {
  tenantId: string;
  source: string | null;
  scopes: Scope[];
  createdAt: number;
}

/** Makes a key and stores its record (active; the secret only as its hash). Returns the key. */
export async function issueApiKey(keys: KeyStore, grant: KeyGrant): Promise<GeneratedApiKey> {
  const generated = generateApiKey();
  await keys.create({
    keyId: generated.keyId,
    secretHash: generated.secretHash,
    tenantId: grant.tenantId,
    source: grant.source,
    scopes: grant.scopes,
    isActive: true,
    createdAt: grant.createdAt,
    revokedAt: null,
  });
  return generated;
}
