/** Milliseconds since the epoch. Injected everywhere time matters so tests never sleep. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

/** ISO 8601 UTC with milliseconds and `Z`, the only time format on the wire. */
export function toIso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
