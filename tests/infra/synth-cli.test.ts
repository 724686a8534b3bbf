import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(__dirname, '../..');

/**
 * `npm run synth` exactly as the README gives it, through the cdk CLI: no AWS credentials in
 * the environment, telemetry and notices off, bundling for real.
 */
describe('npm run synth', () => {
  let outDir: string;
  beforeAll(() => {
    outDir = mkdtempSync(path.join(tmpdir(), 'triggers-synth-'));
  });
  afterAll(() => {
    rmSync(outDir, { recursive: true, force: true });
  });

  it('synthesizes the prod stack with its bundled function, with no AWS credentials', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
    const { stdout, stderr } = await promisify(execFile)(
      'npm',
      ['run', '-s', 'synth', '--', '-c', 'stage=prod', '-o', outDir],
      { cwd: ROOT, env: { ...env, HOME: outDir }, timeout: 150_000 },
    );
    const template = JSON.parse(readFileSync(path.join(outDir, 'TriggersApi-prod.template.json'), 'utf8'));
    const functions = Object.values(
      template.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>,
    ).filter((resource) => resource.Type === 'AWS::Lambda::Function');
    expect(functions.map((fn) => fn.Properties.FunctionName)).toEqual(['triggers-api-prod']);
    const manifest = JSON.parse(readFileSync(path.join(outDir, 'TriggersApi-prod.assets.json'), 'utf8'));
    const asset = Object.values(manifest.files as Record<string, { source: { path: string } }>).find((file) =>
      file.source.path.startsWith('asset.'),
    );
    expect(asset).toBeDefined();
    const bundle = readFileSync(path.join(outDir, asset?.source.path ?? '', 'index.js'), 'utf8');
    expect(bundle.length).toBeGreaterThan(500_000);
    expect(`${stdout}${stderr}`).not.toMatch(/telemetry|credentials/i);
  }, 180_000);
});
