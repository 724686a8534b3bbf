import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import {
  eventsTableDefinition,
  keysTableDefinition,
  TTL_ATTRIBUTE,
} from '../../server/src/store/dynamodb/tables';
import type { ResourceNames } from './names';
import type { StackSettings } from './settings';

export interface Tables {
  events: dynamodb.Table;
  keys: dynamodb.Table;
}

/**
 * Both tables, built from the server's own CreateTable definitions (the ones DynamoDB Local
 * and the tests use), so the deployed keys, indexes and stream cannot drift from what the
 * code queries.
 * `Table`, not `TableV2`: the latter synthesizes a global table.
 */
export function createTables(scope: Construct, settings: StackSettings, names: ResourceNames): Tables {
  return {
    events: tableFrom(scope, 'EventsTable', eventsTableDefinition(names.tables.events), settings),
    keys: tableFrom(scope, 'KeysTable', keysTableDefinition(names.tables.keys), settings),
  };
}

type TableDefinition = ReturnType<typeof eventsTableDefinition>;
type KeySchema = TableDefinition['KeySchema'];

const ATTRIBUTE_TYPES = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
  B: dynamodb.AttributeType.BINARY,
} as const;

const STREAM_VIEW_TYPES = {
  NEW_IMAGE: dynamodb.StreamViewType.NEW_IMAGE,
  OLD_IMAGE: dynamodb.StreamViewType.OLD_IMAGE,
  NEW_AND_OLD_IMAGES: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
  KEYS_ONLY: dynamodb.StreamViewType.KEYS_ONLY,
} as const;

const PROJECTION_TYPES = {
  ALL: dynamodb.ProjectionType.ALL,
  KEYS_ONLY: dynamodb.ProjectionType.KEYS_ONLY,
  INCLUDE: dynamodb.ProjectionType.INCLUDE,
} as const;

function tableFrom(scope: Construct, id: string, definition: TableDefinition, settings: StackSettings) {
  const stream = definition.StreamSpecification;
  const table = new dynamodb.Table(scope, id, {
    tableName: definition.TableName,
    stream:
      stream?.StreamEnabled && stream.StreamViewType ? STREAM_VIEW_TYPES[stream.StreamViewType] : undefined,
    ...keyAttributes(definition, definition.KeySchema),
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    timeToLiveAttribute: TTL_ATTRIBUTE,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: settings.isProd,
    removalPolicy: settings.isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
  for (const index of definition.GlobalSecondaryIndexes ?? []) {
    const projection = index.Projection?.ProjectionType;
    if (index.IndexName === undefined || projection === undefined) {
      throw new Error(`${definition.TableName}: a global secondary index needs a name and a projection`);
    }
    table.addGlobalSecondaryIndex({
      indexName: index.IndexName,
      ...keyAttributes(definition, index.KeySchema),
      projectionType: PROJECTION_TYPES[projection],
      nonKeyAttributes: index.Projection?.NonKeyAttributes,
    });
  }
  return table;
}

/** The partition and sort keys of a key schema, typed from the table's attribute definitions. */
function keyAttributes(definition: TableDefinition, keySchema: KeySchema) {
  const attribute = (keyType: 'HASH' | 'RANGE'): dynamodb.Attribute | undefined => {
    const name = keySchema?.find((key) => key.KeyType === keyType)?.AttributeName;
    if (name === undefined) return undefined;
    const type = definition.AttributeDefinitions?.find((each) => each.AttributeName === name)?.AttributeType;
    if (type === undefined)
      throw new Error(`${definition.TableName}: key ${name} has no attribute definition`);
    return { name, type: ATTRIBUTE_TYPES[type] };
  };
  const partitionKey = attribute('HASH');
  if (partitionKey === undefined) throw new Error(`${definition.TableName}: a key schema needs a HASH key`);
  return { partitionKey, sortKey: attribute('RANGE') };
}
