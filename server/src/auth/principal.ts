import type { Scope } from '../store/key-store';

/** Who signs a request: every read and write is scoped to `tenantId`. */
export interface Principal {
  tenantId: string;
  keyId: string;
  source: string;
  scopes: readonly Scope[];
}
