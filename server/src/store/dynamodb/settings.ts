import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';

/**
 * A server-wide setting kept in the events table (`pk = __settings__#{name}`; no tenant's
 * key can take that form, since event keys end in a UUID). The first process to need it
 * makes it; every later process, and every Lambda container, reads the same value.
 */
export async function getOrCreateDynamoSetting(
  client: DynamoDBDocumentClient,
  tableName: string,
  name: string,
  make: () => string,
): Promise<string> {
  const Key = { pk: `__settings__#${name}` };
  const found = await client.send(new GetCommand({ TableName: tableName, Key, ConsistentRead: true }));
  if (typeof found.Item?.value === 'string') return found.Item.value;
  const value = make();
  try {
    await client.send(
      new PutCommand({
        TableName: tableName,
        Item: { ...Key, value },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return value;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    // Another process made it between our read and our write: theirs is the one.
    return getOrCreateDynamoSetting(client, tableName, name, make);
  }
}
