import { timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock';
import { UnauthorizedError } from '../errors';
import { ALL_SCOPES, type ApiKeyRecord, type KeyStore } from '../store/key-store';
import { DEV_API_KEY, hashSecret, parseApiKey } from './api-keys';
import type { Principal } from './principal';

export type AuthMode = 'local' | 'aws';

export interface AuthenticatorOptions {
  keys: KeyStore;
  authMode: AuthMode;
  clock: Clock;
  /**
   * How long a looked-up key is trusted before it is read again. Revocation takes effect
   * within this time everywhere, so it must stay well under the promised 60 s.
   */
  cacheTtlMs?: number;
  cacheMaxEntries?: number;
}

const DEV_KEY_HASH = Buffer.from(hashSecret(DEV_API_KEY), 'hex');
const DEV_PRINCIPAL: Principal = {
  tenantId: 'local',
  keyId: 'dev',
  source: null,
  scopes: ALL_SCOPES,
};

/**
 * Resolves an API key to its principal. Keys are found by the SHA-256 of their secret (never
 * by the secret itself) and the stored hash is compared in constant time.
 */
export class Authenticator {
  private readonly cache = new Map<string, { record: ApiKeyRecord; until: number }>();
  private readonly cacheTtlMs: number;
  private readonly cacheMaxEntries: number;

  constructor(private readonly options: AuthenticatorOptions) {
    this.cacheTtlMs = options.cacheTtlMs ?? 10_000;
    this.cacheMaxEntries = options.cacheMaxEntries ?? 10_000;
  }

  async authenticate(rawKey: string | undefined): Promise<Principal> {
    if (!rawKey) {
      throw new UnauthorizedError(
        'Missing API key. Send it as the X-API-Key header or as Authorization: Bearer <key>.',
      );
    }
    if (this.options.authMode === 'local' && isDevKey(rawKey)) return DEV_PRINCIPAL;
    const parsed = parseApiKey(rawKey);
    if (!parsed) throw invalidKey();
    const secretHash = hashSecret(parsed.secret);
    return principalOf(await this.lookup(secretHash), parsed.keyId, secretHash);
  }

  /**
   * The principal of a key found valid within the cache's lifetime (or the development key),
   * without reading the store; undefined for any other key. Lets a client whose address is
   * blocked for failed attempts (often a shared one) keep working with the key it holds.
   */
  cachedPrincipal(rawKey: string | undefined): Principal | undefined {
    if (!rawKey) return undefined;
    if (this.options.authMode === 'local' && isDevKey(rawKey)) return DEV_PRINCIPAL;
    const parsed = parseApiKey(rawKey);
    if (!parsed) return undefined;
    const secretHash = hashSecret(parsed.secret);
    const cached = this.fromCache(secretHash);
    if (!cached) return undefined;
    try {
      return principalOf(cached, parsed.keyId, secretHash);
    } catch {
      return undefined;
    }
  }

  /** The record cached for this hash, while it is still fresh. */
  private fromCache(secretHash: string): ApiKeyRecord | undefined {
    const cached = this.cache.get(secretHash);
    return cached && cached.until > this.options.clock() ? cached.record : undefined;
  }

  private async lookup(secretHash: string): Promise<ApiKeyRecord | undefined> {
    const cached = this.fromCache(secretHash);
    if (cached) return cached;
    // The record is as old as the read's start: its time in the cache counts from there.
    const now = this.options.clock();
    const record = await this.options.keys.findByHash(secretHash);
    this.cache.delete(secretHash);
    if (record) {
      // Unknown keys are not cached, so guessing cannot fill the cache.
      if (this.cache.size >= this.cacheMaxEntries) {
        const oldest = this.cache.keys().next().value;
        if (oldest !== undefined) this.cache.delete(oldest);
      }
      this.cache.set(secretHash, { record, until: now + this.cacheTtlMs });
    }
    return record;
  }
}

/** The key's principal, once the record is found to match the key and to be active. */
function principalOf(record: ApiKeyRecord | undefined, keyId: string, secretHash: string): Principal {
  if (
    !record ||
    record.keyId !== keyId ||
    !timingSafeEqual(Buffer.from(record.secretHash, 'hex'), Buffer.from(secretHash, 'hex'))
  ) {
    throw invalidKey();
  }
  if (!record.isActive) throw new UnauthorizedError('This API key has been revoked.');
  return {
    tenantId: record.tenantId,
    keyId: record.keyId,
    source: record.source,
    scopes: record.scopes,
  };
}

function isDevKey(rawKey: string): boolean {
  return timingSafeEqual(Buffer.from(hashSecret(rawKey), 'hex'), DEV_KEY_HASH);
}

function invalidKey(): UnauthorizedError {
  return new UnauthorizedError('Invalid API key.');
}
