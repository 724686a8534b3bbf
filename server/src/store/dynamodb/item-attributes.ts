/**
 * Typed reads of an item's attributes as the document client returns them: plain values that
 * the SDK types `any`. Each read checks the value instead of asserting its type, so an item
 * this store did not write fails here, by name, rather than as a wrong value further on.
 */

/** An item as the document client returns it: attribute name to plain value. */
export type RawItem = Record<string, unknown>;

/** An item the store cannot read: a bug or a hand-made item, never a transient fault (500). */
export class MalformedItemError extends Error {
  constructor(attribute: string, expected: string) {
    super(`item attribute ${attribute} is not ${expected}`);
    this.name = 'MalformedItemError';
  }
}

export function readString(item: RawItem, attribute: string): string {
  const value = item[attribute];
  if (typeof value !== 'string') throw new MalformedItemError(attribute, 'a string');
  return value;
}

export function readNumber(item: RawItem, attribute: string): number {
  const value = item[attribute];
  if (typeof value !== 'number') throw new MalformedItemError(attribute, 'a number');
  return value;
}

export function readBoolean(item: RawItem, attribute: string): boolean {
  const value = item[attribute];
  if (typeof value !== 'boolean') throw new MalformedItemError(attribute, 'a boolean');
  return value;
}

/** A binary attribute (B), which the document client returns as a Uint8Array. */
export function readBytes(item: RawItem, attribute: string): Uint8Array {
  const value = item[attribute];
  if (!(value instanceof Uint8Array)) throw new MalformedItemError(attribute, 'binary');
  return value;
}

/** One of a closed set of strings (a status, a priority). */
export function readOneOf<T extends string>(item: RawItem, attribute: string, allowed: readonly T[]): T {
  const found = oneOf(item[attribute], allowed);
  if (found === undefined) throw new MalformedItemError(attribute, `one of ${allowed.join(', ')}`);
  return found;
}

/** A list (L) whose every element is one of a closed set of strings. */
export function readListOf<T extends string>(item: RawItem, attribute: string, allowed: readonly T[]): T[] {
  const value = item[attribute];
  if (!Array.isArray(value)) throw new MalformedItemError(attribute, 'a list');
  return value.map((element: unknown) => {
    const found = oneOf(element, allowed);
    if (found === undefined) throw new MalformedItemError(attribute, `a list of ${allowed.join(', ')}`);
    return found;
  });
}

/**
 * An attribute that may be absent (written as undefined, which the client drops) or null
 * (as items written by hand may hold), read with `read` when present.
 */
export function readOptional<T>(
  item: RawItem,
  attribute: string,
  read: (item: RawItem, attribute: string) => T,
): T | undefined {
  return item[attribute] === undefined || item[attribute] === null ? undefined : read(item, attribute);
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[]): T | undefined {
  return allowed.find((candidate) => candidate === value);
}
