import { describeBulkCrash, dynamoBackend } from './bulk-crash-harness';

// The harness (bulk-crash-harness.ts) says what is checked; bulk-crash.test.ts runs it on SQLite.
describeBulkCrash('DynamoDB', dynamoBackend);
