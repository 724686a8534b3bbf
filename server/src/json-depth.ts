/** True when `value` has more than `limit` levels of objects or arrays; iterative, no recursion. */
export function exceedsDepth(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > limit) return true;
    for (const child of Object.values(current)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * The JSON pointer of the first number that JSON cannot carry back (a literal like `1e400`
 * parses to Infinity and would be stored as `null`), or undefined when there is none.
 */
export function findNonFiniteNumber(value: unknown, path = ''): string | undefined {
  const stack: Array<[unknown, string]> = [[value, path]];
  while (stack.length > 0) {
    const [current, at] = stack.pop() as [unknown, string];
    if (typeof current === 'number') {
      if (!Number.isFinite(current)) return at;
    } else if (current !== null && typeof current === 'object') {
      for (const [key, child] of Object.entries(current)) {
        if (typeof child === 'number' || (child !== null && typeof child === 'object')) {
          stack.push([child, `${at}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`]);
        }
      }
    }
  }
  return undefined;
}
