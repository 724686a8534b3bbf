/**
 * Creates the DynamoDB tables of TRIGGERS_STAGE on TRIGGERS_DYNAMODB_ENDPOINT (DynamoDB Local,
 * for development); on AWS the CDK stack owns them.
 *
 *   TRIGGERS_DYNAMODB_ENDPOINT=http://127.0.0.1:8000 npm run -s tables -- create
 */
import { ConfigError, readConfig } from '../server/src/config';
import { createDynamoClients } from '../server/src/store/dynamodb/client';
import { createTables, dynamoTableNames } from '../server/src/store/dynamodb/tables';

const USAGE = `Usage: npm run -s tables -- create

Creates the events and keys tables of TRIGGERS_STAGE (default dev) with TTL on, at
TRIGGERS_DYNAMODB_ENDPOINT (required: on AWS the CDK stack owns the tables). Tables that
exist already are left as they are.`;

async function main([command, ...rest]: string[]): Promise<number> {
  if (command === undefined || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command !== 'create' || rest.length > 0) {
    process.stderr.write(`tables: unknown arguments "${[command, ...rest].join(' ')}"\n\n${USAGE}\n`);
    return 2;
  }
  const config = readConfig();
  if (!config.dynamodbEndpoint) {
    process.stderr.write('tables: set TRIGGERS_DYNAMODB_ENDPOINT (e.g. http://127.0.0.1:8000)\n');
    return 2;
  }
  const clients = createDynamoClients({ region: config.awsRegion, endpoint: config.dynamodbEndpoint });
  try {
    const names = dynamoTableNames(config.stage);
    const created = await createTables(clients.base, names);
    process.stdout.write(
      `${JSON.stringify({ endpoint: config.dynamodbEndpoint, events: names.events, keys: names.keys, created })}\n`,
    );
    return 0;
  } finally {
    clients.base.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `tables: ${error instanceof ConfigError ? error.message : String((error as Error).message ?? error)}\n`,
    );
    process.exitCode = error instanceof ConfigError ? 2 : 1;
  },
);
