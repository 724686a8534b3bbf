import type { Scope } from '../store/key-store';

/** Who signs a request: every read and write is scoped to `tenantId`. */
export interface Principal {
  tenantId: string;
  keyId: string;
  /** The only source this key may send events of; null: any (the dev key, keys made without one). */
  source: string | null;
  scopes: readonly Scope[];
}
