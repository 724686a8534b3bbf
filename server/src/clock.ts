/** Milliseconds since the epoch. Injected everywhere time matters so tests never sleep. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

const DAY_MS = 86_400_000;
/** 0000-01-01 and 9999-12-31 in days since the epoch: the years toISOString writes in four digits. */
const FIRST_DAY = -719_528;
const LAST_DAY = 2_932_896;

/**
 * ISO 8601 UTC with milliseconds and `Z`, the only time format on the wire: exactly what
 * `Date#toISOString` writes (tests/server/clock.test.ts compares them). `toISOString` took
 * 12 % of the CPU of an inbox page of 100, three times per event (BENCHMARKS.md); integer
 * arithmetic writes the same string several times faster.
 */
export function toIso(epochMs: number): string {
  const day = Math.floor(epochMs / DAY_MS);
  // A fraction, a time a Date cannot hold (a RangeError) or a year past four digits: Date's way.
  if (!Number.isInteger(epochMs) || day < FIRST_DAY || day > LAST_DAY) return new Date(epochMs).toISOString();
  const { year, month, dayOfMonth } = civilFromDays(day);
  const inDay = epochMs - day * DAY_MS;
  const millis = inDay % 1_000;
  return `${year < 1000 ? `${year}`.padStart(4, '0') : year}-${two(month)}-${two(dayOfMonth)}T${two(Math.floor(inDay / 3_600_000))}:${two(Math.floor(inDay / 60_000) % 60)}:${two(Math.floor(inDay / 1_000) % 60)}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}

/** The proleptic Gregorian date of a day since 1970-01-01 (H. Hinnant's `civil_from_days`). */
function civilFromDays(days: number): { year: number; month: number; dayOfMonth: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1_460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  return {
    year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0),
    month,
    dayOfMonth: dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1,
  };
}

function two(value: number): string {
  return value < 10 ? `0${value}` : `${value}`;
}
