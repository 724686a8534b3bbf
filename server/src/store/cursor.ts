import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidCursorError } from '../errors';
import type { InboxPosition } from './event-store';

/** What a cursor is bound to: a cursor is valid only for the tenant and filters it was made for. */
export interface CursorScope {
  tenantId: string;
  /** Canonical string of the inbox filters. */
  filters: string;
}

interface CursorBody {
  v: 1;
  t: string;
  f: string;
  c: number;
  e: string;
}

const SIGNATURE_BYTES = 16;

/** A fresh cursor secret, for a store that keeps its own when TRIGGERS_CURSOR_SECRET is unset. */
export function newCursorSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Opaque inbox cursors: base64url of the position plus the tenant and filters, followed by a
 * truncated HMAC-SHA256 over those bytes. Shared by every store, so a cursor means the same
 * thing whichever adapter serves the next page.
 */
export class CursorCodec {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(secret, 'utf8');
  }

  encode(scope: CursorScope, position: InboxPosition): string {
    const body: CursorBody = {
      v: 1,
      t: scope.tenantId,
      f: scope.filters,
      c: position.createdAt,
      e: position.eventId,
    };
    const bytes = Buffer.from(JSON.stringify(body), 'utf8');
    return `${bytes.toString('base64url')}.${this.sign(bytes).toString('base64url')}`;
  }

  /** The position a cursor points at; throws InvalidCursorError for anything not issued for this scope. */
  decode(cursor: string, scope: CursorScope): InboxPosition {
    const [encodedBody, encodedSignature, ...rest] = cursor.split('.');
    if (!encodedBody || !encodedSignature || rest.length > 0) {
      throw new InvalidCursorError('it is not a cursor issued by this server');
    }
    const bytes = Buffer.from(encodedBody, 'base64url');
    const signature = Buffer.from(encodedSignature, 'base64url');
    const expected = this.sign(bytes);
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
      throw new InvalidCursorError('it is not a cursor issued by this server, or it was altered');
    }
    const body = parseBody(bytes);
    if (!body) throw new InvalidCursorError('it is not a cursor issued by this server');
    if (body.t !== scope.tenantId) {
      throw new InvalidCursorError('it was issued for another API key tenant');
    }
    if (body.f !== scope.filters) {
      throw new InvalidCursorError('it was issued for other filters');
    }
    return { createdAt: body.c, eventId: body.e };
  }

  private sign(bytes: Buffer): Buffer {
    return createHmac('sha256', this.key).update(bytes).digest().subarray(0, SIGNATURE_BYTES);
  }
}

function parseBody(bytes: Buffer): CursorBody | undefined {
  try {
    const body = JSON.parse(bytes.toString('utf8')) as Partial<CursorBody>;
    if (
      body.v === 1 &&
      typeof body.t === 'string' &&
      typeof body.f === 'string' &&
      typeof body.c === 'number' &&
      Number.isSafeInteger(body.c) &&
      typeof body.e === 'string'
    ) {
      return body as CursorBody;
    }
  } catch {
    // fall through: a signed body we cannot read is still not a cursor
  }
  return undefined;
}
