/**
 * A worker process for consume-e2e.test.ts: `node --import tsx consume-worker.ts BASE_URL
 * SOURCE VISIBILITY_TIMEOUT`. It consumes the events of SOURCE with the SDK's consume() and
 * prints `handling <event_id>` for each one its handler starts; the handler then never
 * ends, so the test can kill the process (kill -9) while it holds its leases.
 */
import { consume, createTriggersClient } from '../../sdk/src/index';

const [baseUrl, source, visibilityTimeout] = process.argv.slice(2);
if (!baseUrl || !source || !visibilityTimeout) {
  throw new Error('usage: consume-worker.ts BASE_URL SOURCE VISIBILITY_TIMEOUT');
}

const client = createTriggersClient({ baseUrl, apiKey: 'test-api-key-12345' });
void consume(
  async (event) => {
    process.stdout.write(`handling ${event.event_id}\n`);
    await new Promise<never>(() => undefined);
  },
  {
    client,
    concurrency: 10,
    wait: 1,
    visibilityTimeout: Number(visibilityTimeout),
    filter: { source },
    onError: (error, { operation }) => process.stderr.write(`${operation} failed: ${String(error)}\n`),
  },
);
