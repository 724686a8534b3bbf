import { copyFileSync, cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { parse } from 'yaml';
import { BUNDLED_REDOC_FILE, BUNDLED_SPEC_JSON, BUNDLED_SPEC_YAML } from '../../server/src/spec';
import { BUNDLED_VERSION_FILE } from '../../server/src/version';

const REPO_ROOT = path.resolve(__dirname, '../..');
const SERVER_DIR = path.join(REPO_ROOT, 'server');
/** Resolves packages as the server does, and as express does (its nested dependencies). */
const serverRequire = createRequire(path.join(SERVER_DIR, 'package.json'));
const expressRequire = createRequire(serverRequire.resolve('express'));

export interface BundleReport {
  /** The bundle itself, `index.js`. */
  indexPath: string;
  indexBytes: number;
  /** Bytes of the bundle's inputs by npm package (or `(ours)`), largest first. */
  inputBytesByPackage: Array<[string, number]>;
}

/**
 * Bundles the Lambda handler (server/src/lambda.ts) into `outDir/index.js` with the contract,
 * the Redoc page and iconv-lite's code-page tables beside it. The CDK stack deploys exactly
 * this (local bundling, no Docker), and the tests load exactly this, so what is tested is what
 * ships.
 */
export function bundleLambda(outDir: string): BundleReport {
  const report = bundle(
    path.join(SERVER_DIR, 'src/lambda.ts'),
    outDir,
    {
      ...oneMimeDatabase(),
      // ono's ESM build ends in a CommonJS hack (`module.exports = Object.assign(...)`) that
      // throws once bundled; its CommonJS build is the one that works.
      '@jsdevtools/ono': serverRequire.resolve('@jsdevtools/ono/cjs/index.js'),
    },
    [ICONV_TABLES],
  );
  shipIconvTables(outDir);
  const specYaml = readFileSync(path.join(REPO_ROOT, 'openapi/triggers.v1.yaml'), 'utf8');
  writeFileSync(path.join(outDir, BUNDLED_SPEC_YAML), specYaml);
  writeFileSync(path.join(outDir, BUNDLED_SPEC_JSON), JSON.stringify(parse(specYaml)));
  copyFileSync(
    serverRequire.resolve('redoc/bundles/redoc.standalone.js'),
    path.join(outDir, BUNDLED_REDOC_FILE),
  );
  return report;
}

/**
 * Bundles the webhook delivery handlers (server/src/delivery-lambda.ts: `streamHandler` and
 * `sweepHandler`, one bundle for both functions) into `outDir/index.js`, with the API's
 * version beside it for the webhooks' `user-agent`. No Express, no contract, no Redoc.
 */
export function bundleDeliveryLambda(outDir: string): BundleReport {
  const report = bundle(path.join(SERVER_DIR, 'src/delivery-lambda.ts'), outDir, {});
  const spec = parse(readFileSync(path.join(REPO_ROOT, 'openapi/triggers.v1.yaml'), 'utf8')) as {
    info: { version: string };
  };
  writeFileSync(path.join(outDir, BUNDLED_VERSION_FILE), JSON.stringify({ version: spec.info.version }));
  return report;
}

/**
 * iconv-lite's code-page tables (Shift JIS, GBK, Big5…: 400 KB once bundled, a fifth of the
 * bundle), which it requires only when it decodes such a charset. JSON bodies are UTF-8, -16
 * or -32 (body-parser answers 415 to any other charset), so no request reads them; bundled,
 * every cold start would still parse them. They ship beside index.js instead, where their
 * `require('./tables/….json')` finds them should one ever be needed.
 */
const ICONV_TABLES = './tables/*.json';

function shipIconvTables(outDir: string): void {
  const iconv = createRequire(expressRequire.resolve('body-parser')).resolve('iconv-lite/package.json');
  cpSync(path.join(path.dirname(iconv), 'encodings/tables'), path.join(outDir, 'tables'), {
    recursive: true,
  });
}

/** One entry point into `outDir/index.js`, minified with a linked source map, as Lambda loads it. */
function bundle(
  entryPoint: string,
  outDir: string,
  alias: Record<string, string>,
  external: string[] = [],
): BundleReport {
  mkdirSync(outDir, { recursive: true });
  const indexPath = path.join(outDir, 'index.js');
  const result = buildSync({
    entryPoints: [entryPoint],
    outfile: indexPath,
    bundle: true,
    platform: 'node',
    // Lambda runs Node 24; node20 keeps the bundle loadable by the oldest Node this repository
    // supports, which the tests load it with.
    target: 'node20',
    format: 'cjs',
    // ESM entry points first: they let esbuild drop the unused parts of the AWS SDK (about
    // 200 KB of the bundle).
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'error',
    alias,
    external,
  });
  // Sources named from the repository's root (server/src/app.ts, node_modules/express/...),
  // not relative to the directory the bundle was built in: a mapped stack reads the same
  // whatever built it (server/src/lambda/source-mapped-stack.ts).
  const mapPath = `${indexPath}.map`;
  const map = JSON.parse(readFileSync(mapPath, 'utf8')) as { sources: string[] };
  map.sources = map.sources.map((source) => path.relative(REPO_ROOT, path.resolve(outDir, source)));
  writeFileSync(mapPath, JSON.stringify(map));
  const byPackage = new Map<string, number>();
  const output = Object.values(result.metafile.outputs).find((each) => each.entryPoint);
  for (const [input, info] of Object.entries(output?.inputs ?? {})) {
    const name = packageOf(input);
    byPackage.set(name, (byPackage.get(name) ?? 0) + info.bytesInOutput);
  }
  return {
    indexPath,
    indexBytes: statSync(indexPath).size,
    inputBytesByPackage: [...byPackage].sort((a, b) => b[1] - a[1]),
  };
}

function packageOf(input: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input.slice(input.lastIndexOf('node_modules/')));
  return match?.[1] ?? '(ours)';
}

/**
 * npm keeps nested copies of mime-db (150 KB of JSON each) and of mime-types under express and
 * its dependencies, because other versions sit at the top of node_modules: four copies of
 * mime-types 3.0.2 (express, type-is, accepts, send) and one of 2.1.35 (under multer, which
 * `fileUploader: false` never runs; its use, `lookup`, is the same in 3). Bundle the ones
 * express uses, once. Each mime-types copy also builds its maps of all ~2,400 types when it is
 * loaded, so the copies cost every cold start, not only bytes.
 */
function oneMimeDatabase(): Record<'mime-db' | 'mime-types', string> {
  const mimeTypes = path.dirname(expressRequire.resolve('mime-types/package.json'));
  return {
    'mime-types': mimeTypes,
    'mime-db': path.dirname(
      createRequire(path.join(mimeTypes, 'package.json')).resolve('mime-db/package.json'),
    ),
  };
}
