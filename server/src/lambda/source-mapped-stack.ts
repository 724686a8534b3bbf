import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { type SerializedError, stdSerializers } from 'pino';

/**
 * Stack traces of the Lambda bundle, mapped back to the sources when an error is logged.
 * Node's `--enable-source-maps` does this for every stack, but it reads and indexes the
 * bundle's map while the bundle loads, which cost 130–230 ms of each cold start on Node 24
 * (BENCHMARKS.md); here the map is read on the first error logged, and never when none is.
 *
 * Only positions in `bundle` are mapped (the bundle is this very file once built); run from
 * source (tests, tsx) there is no map beside it, and stacks are left as they are.
 */
export function sourceMappedStack(stack: string, bundle = __filename): string {
  if (!stack.includes(bundle)) return stack;
  const map = mapOf(bundle);
  if (!map) return stack;
  const position = new RegExp(`${escapeRegExp(bundle)}:(\\d+):(\\d+)`, 'g');
  return stack.replace(position, (whole, line: string, column: string) => {
    const origin = map.findOrigin(Number(line), Number(column));
    return 'fileName' in origin ? `${origin.fileName}:${origin.lineNumber}:${origin.columnNumber}` : whole;
  });
}

/** pino's error serializer, with the stack (its causes' included) mapped to the sources. */
export function sourceMappedError(error: Error): SerializedError {
  const serialized = stdSerializers.err(error);
  if (typeof serialized.stack === 'string') serialized.stack = sourceMappedStack(serialized.stack);
  return serialized;
}

const maps = new Map<string, SourceMap | null>();

/** The map beside `file` (`file.map`), read once; null when there is none or it is unreadable. */
function mapOf(file: string): SourceMap | null {
  let map = maps.get(file);
  if (map === undefined) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
    } catch {
      map = null;
    }
    maps.set(file, map);
  }
  return map;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
