import { describeBulkCrash, sqliteBackend } from './bulk-crash-harness';

// The harness (bulk-crash-harness.ts) says what is checked; bulk-crash-dynamodb.test.ts runs it on DynamoDB.
describeBulkCrash('SQLite', sqliteBackend);
