/**
 * The DynamoDB that the jest global setup provides (TRIGGERS_DYNAMODB_ENDPOINT) really is a
 * DynamoDB: tables, items, transactions with conditions, TTL.
 */
import { randomUUID } from 'node:crypto';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  TransactionCanceledException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';

// The pinned AWS SDK still runs on Node 20 but warns there at every client made (releases
// from 2027 need Node 22): keep the test output quiet.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const endpoint = process.env.TRIGGERS_DYNAMODB_ENDPOINT;
if (!endpoint)
  throw new Error('TRIGGERS_DYNAMODB_ENDPOINT is not set: the jest global setup starts DynamoDB Local');

const client = new DynamoDBClient({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
const documents = DynamoDBDocumentClient.from(client);
const TableName = `dynamodb-local-test-${randomUUID()}`;

afterAll(() => client.destroy());

describe('DynamoDB at TRIGGERS_DYNAMODB_ENDPOINT', () => {
  it('creates a table, stores items, cancels a conditional transaction, enables TTL, deletes the table', async () => {
    const created = await client.send(
      new CreateTableCommand({
        TableName,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    expect(created.TableDescription?.TableName).toBe(TableName);

    try {
      await documents.send(new PutCommand({ TableName, Item: { pk: 'a', payload: '{"n":1}', count: 1 } }));
      const got = await documents.send(new GetCommand({ TableName, Key: { pk: 'a' }, ConsistentRead: true }));
      expect(got.Item).toEqual({ pk: 'a', payload: '{"n":1}', count: 1 });

      // The second write's condition fails, so neither write happens.
      const transaction = documents.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName, Item: { pk: 'b', count: 1 } } },
            {
              Put: {
                TableName,
                Item: { pk: 'a', count: 2 },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
      const error = await transaction.then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(TransactionCanceledException);
      expect(
        (error as TransactionCanceledException).CancellationReasons?.map((reason) => reason.Code),
      ).toEqual(['None', 'ConditionalCheckFailed']);
      expect((await documents.send(new GetCommand({ TableName, Key: { pk: 'b' } }))).Item).toBeUndefined();
      expect((await documents.send(new GetCommand({ TableName, Key: { pk: 'a' } }))).Item?.count).toBe(1);

      const ttl = await client.send(
        new UpdateTimeToLiveCommand({
          TableName,
          TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        }),
      );
      expect(ttl.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
      const described = await client.send(new DescribeTimeToLiveCommand({ TableName }));
      expect(described.TimeToLiveDescription?.AttributeName).toBe('expiresAt');
    } finally {
      await client.send(new DeleteTableCommand({ TableName }));
    }
  });
});
