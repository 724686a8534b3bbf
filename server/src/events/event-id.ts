const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The id as stored (lower case), or undefined when it cannot name an event: then the answer
 * is 404 without asking the store (bulk operations take any string as an id).
 */
export function storedEventId(id: string): string | undefined {
  return UUID.test(id) ? id.toLowerCase() : undefined;
}
