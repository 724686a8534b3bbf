import fc from 'fast-check';
import { toIso } from '../../server/src/clock';

describe('toIso', () => {
  it('writes exactly what Date#toISOString writes, for any time a Date can hold', () => {
    const maxMs = 8.64e15;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: -maxMs, max: maxMs }),
          // Around now, in the same and in neighbouring days, as an inbox page's times are.
          fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_000 + 5 * 86_400_000 }),
          // The epoch, days' edges, years 0000, 1000 and 9999 and either side, the last leap days.
          fc.constantFrom(
            0,
            -1,
            86_399_999,
            86_400_000,
            -86_400_000,
            -62_167_219_200_000,
            -62_167_219_200_001,
            -30_610_224_000_000,
            253_402_300_799_999,
            253_402_300_800_000,
            951_782_400_000,
            4_107_542_400_000,
            maxMs,
            -maxMs,
          ),
          // Any day of years 0000-9999, at any time of day.
          fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }),
          fc.double({ min: -1e13, max: 1e13, noNaN: true }),
        ),
        (ms) => {
          expect(toIso(ms)).toBe(new Date(ms).toISOString());
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('refuses a time a Date cannot hold, as Date#toISOString does', () => {
    expect(() => toIso(8.64e15 + 1)).toThrow(RangeError);
    expect(() => toIso(Number.NaN)).toThrow(RangeError);
  });
});
