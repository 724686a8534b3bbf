import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

// The layout CONTRIBUTING.md draws, held by the code: imports point one way (no cycles), and
// the app and its features never reach a store adapter directly.

const SERVER_SRC = path.resolve(__dirname, '../../server/src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Each file's relative imports (type-only ones included), resolved to files. */
function importGraph(files: string[]): Map<string, string[]> {
  const known = new Set(files);
  return new Map(
    files.map((file) => {
      const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
      const targets = importedFiles
        .map((imported) => imported.fileName)
        .filter((name) => name.startsWith('.'))
        .map((name) => path.resolve(path.dirname(file), name))
        .map((base) => (known.has(`${base}.ts`) ? `${base}.ts` : path.join(base, 'index.ts')))
        .filter((target) => known.has(target));
      return [file, targets];
    }),
  );
}

/** The strongly connected components of more than one file (Tarjan), or a file importing itself. */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (file: string): void => {
    index.set(file, next);
    low.set(file, next);
    next++;
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file) as number, low.get(target) as number));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file) as number, index.get(target) as number));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop() as string;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || (graph.get(file) ?? []).includes(file)) found.push(component);
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return found;
}

const relative = (file: string): string => path.relative(SERVER_SRC, file);

describe('The server import graph', () => {
  const graph = importGraph(sourceFiles(SERVER_SRC));

  it('finds the server files and their imports', () => {
    // Assess: a walk that found nothing would pass the checks below for nothing.
    expect(graph.size).toBeGreaterThan(40);
    expect(graph.get(path.join(SERVER_SRC, 'app.ts'))).toContain(path.join(SERVER_SRC, 'config.ts'));
  });

  it('has no import cycles', () => {
    // Act
    const found = cycles(graph).map((component) => component.map(relative).sort());

    // Assess
    expect(found).toEqual([]);
  });

  it('finds a cycle when there is one', () => {
    // Prepare
    const a = path.join(SERVER_SRC, 'a.ts');
    const b = path.join(SERVER_SRC, 'b.ts');

    // Act
    const found = cycles(
      new Map([
        [a, [b]],
        [b, [a]],
      ]),
    );

    // Assess
    expect(found.map((component) => component.map(relative).sort())).toEqual([['a.ts', 'b.ts']]);
  });

  it("keeps the server's Prometheus metrics (prom-client) out of what the Lambda entry points load", () => {
    // Prepare: on Lambda, metrics are EMF (lambda/metrics.ts).
    const reached = new Set<string>();
    const visit = (file: string): void => {
      if (reached.has(file)) return;
      reached.add(file);
      for (const target of graph.get(file) ?? []) visit(target);
    };

    // Act
    for (const entry of ['lambda.ts', 'delivery-lambda.ts']) visit(path.join(SERVER_SRC, entry));
    const prometheus = [...reached].map(relative).filter((file) => file.startsWith('prometheus/'));

    // Assess: the walk went deep (the app, the stores), and never into prometheus/.
    expect(reached.has(path.join(SERVER_SRC, 'app.ts'))).toBe(true);
    expect(reached.has(path.join(SERVER_SRC, 'store/dynamodb/event-store.ts'))).toBe(true);
    expect(prometheus).toEqual([]);
    expect(graph.get(path.join(SERVER_SRC, 'local.ts'))).toContain(
      path.join(SERVER_SRC, 'prometheus/metrics.ts'),
    );
  });

  it('keeps the store adapters out of the app and the features', () => {
    // Prepare
    const adapters = /^store\/(sqlite|dynamodb)\//;
    // The entry points that open a store, and the stream handler, which reads records of the
    // DynamoDB table's own stream: it exists only with that adapter.
    const allowed = new Set([
      'lambda.ts',
      'delivery-lambda.ts',
      'store/open-stores.ts',
      'webhooks/aws/stream-handler.ts',
    ]);

    // Act
    const reaching = [...graph]
      .filter(([file]) => !adapters.test(relative(file)) && !allowed.has(relative(file)))
      .flatMap(([file, targets]) =>
        targets
          .filter((target) => adapters.test(relative(target)))
          .map((t) => `${relative(file)} -> ${relative(t)}`),
      );

    // Assess
    expect(reaching).toEqual([]);
  });
});
