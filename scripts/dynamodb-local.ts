/**
 * Runs DynamoDB Local (in memory, from the npm-packed jar; needs Java 17) in the foreground
 * for development, until Ctrl-C:
 *
 *   npm run -s dynamodb-local                 # http://127.0.0.1:8000
 *   npm run -s dynamodb-local -- --port 8001
 */
import { parseArgs } from 'node:util';
import { startDynamoDbLocal } from '../tests/helpers/dynamodb-local';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '8000' } } });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    throw new Error(`--port must be a TCP port, got ${values.port}`);
  const local = await startDynamoDbLocal({ port });
  process.stdout.write(`DynamoDB Local is running at ${local.endpoint} (in memory; Ctrl-C stops it)\n`);
  const stop = () => {
    local.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
});
