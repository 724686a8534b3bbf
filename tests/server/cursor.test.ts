import { CursorCodec } from '../../server/src/store/cursor';

describe('CursorCodec', () => {
  const codec = new CursorCodec('secret-one-0123456789abcdef0123456789');
  const scope = { tenantId: 'acme', filters: '{"source":"billing"}' };
  const position = { createdAt: 1_795_000_000_000, eventId: '0193a0b0-0000-7000-8000-000000000001' };

  it('decodes what it encoded, for the same scope', () => {
    expect(codec.decode(codec.encode(scope, position), scope)).toEqual(position);
  });

  it('is opaque base64url with a signature', () => {
    expect(codec.encode(scope, position)).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
  });

  it('refuses a cursor signed with another secret', () => {
    const other = new CursorCodec('secret-two-0123456789abcdef0123456789');
    expect(() => codec.decode(other.encode(scope, position), scope)).toThrow(/altered/);
  });

  it('refuses another tenant and other filters', () => {
    const cursor = codec.encode(scope, position);
    expect(() => codec.decode(cursor, { ...scope, tenantId: 'other' })).toThrow(/another API key tenant/);
    expect(() => codec.decode(cursor, { ...scope, filters: '{}' })).toThrow(/other filters/);
  });

  it('refuses a correctly signed body that is not a cursor', () => {
    const forge = (body: unknown) => {
      // Sign arbitrary bytes with the real key through the public encoder's format.
      const bytes = Buffer.from(JSON.stringify(body));
      const signature = (codec as unknown as { sign(b: Buffer): Buffer }).sign(bytes);
      return `${bytes.toString('base64url')}.${signature.toString('base64url')}`;
    };
    expect(() => codec.decode(forge({ v: 2 }), scope)).toThrow(/not a cursor/);
    expect(() => codec.decode(forge({ v: 1, t: 'acme', f: scope.filters, c: 'x', e: 'y' }), scope)).toThrow(
      /not a cursor/,
    );
  });
});
