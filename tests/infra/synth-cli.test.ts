import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
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

  it('synthesizes the prod stack with its bundled functions, with no AWS credentials', async () => {
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
    expect(functions.map((fn) => fn.Properties.FunctionName)).toEqual([
      'triggers-api-prod',
      'triggers-api-prod-webhook-stream',
      'triggers-api-prod-webhook-sweep',
    ]);
    // Each function's asset, as bundled: the API's with the contract, the delivery one without.
    const assetOf = (fn: { Properties: Record<string, unknown> }) => {
      const hash = String((fn.Properties.Code as { S3Key: string }).S3Key).replace(/\.zip$/, '');
      return path.join(outDir, `asset.${hash}`);
    };
    const [api, stream, sweep] = functions.map(assetOf);
    expect(readdirSync(api as string)).toContain('triggers.v1.yaml');
    expect(statSync(path.join(api as string, 'index.js')).size).toBeGreaterThan(500_000);
    expect(sweep).toBe(stream);
    expect(readdirSync(stream as string).sort()).toEqual(['index.js', 'index.js.map', 'version.json']);
    expect(Object.values(template.Resources as Record<string, { Type: string }>).map((r) => r.Type)).toEqual(
      expect.arrayContaining(['AWS::Lambda::EventSourceMapping', 'AWS::Events::Rule', 'AWS::SQS::Queue']),
    );
    expect(`${stdout}${stderr}`).not.toMatch(/telemetry|credentials/i);
  }, 180_000);

  it('refuses an unknown context key, naming the closest known one (issue 15)', async () => {
    // Act: a typo of memorySize, as a reader would type it
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
    const failure = await promisify(execFile)(
      'npm',
      ['run', '-s', 'synth', '--', '-c', 'memorysize=512', '-o', path.join(outDir, 'typo')],
      { cwd: ROOT, env: { ...env, HOME: outDir }, timeout: 150_000 },
    ).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );

    // Assess
    expect(failure?.code).not.toBe(0);
    expect(failure?.stderr).toMatch(/Unknown context key "memorysize": did you mean "memorySize"\?/);
  }, 180_000);
});
