import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type _Record,
  type AttributeValue,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';

/**
 * Reads a table's DynamoDB Stream on DynamoDB Local, as Lambda's event source mapping does
 * (DescribeStream → GetShardIterator TRIM_HORIZON → GetRecords), and hands out what it read
 * as a DynamoDBStreamEvent shaped exactly as Lambda delivers one: each record with
 * `eventSourceARN`, its images in AttributeValue JSON (binary as base64) and
 * `ApproximateCreationDateTime` in epoch seconds.
 */
export interface StreamReader {
  streamArn: string;
  /** Every record written since the last call (since the table's creation, the first time). */
  next(): Promise<DynamoDBStreamEvent>;
  close(): void;
}

export async function openStreamReader(
  client: DynamoDBClient,
  tableName: string,
  endpoint: string,
): Promise<StreamReader> {
  const table = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const streamArn = table.Table?.LatestStreamArn;
  if (!streamArn) throw new Error(`table ${tableName} has no stream`);
  const streams = new DynamoDBStreamsClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  /** The next iterator of each shard seen so far. */
  const iterators = new Map<string, string | undefined>();
  return {
    streamArn,
    async next() {
      const description = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
      for (const shard of description.StreamDescription?.Shards ?? []) {
        const shardId = shard.ShardId as string;
        if (iterators.has(shardId)) continue;
        const start = await streams.send(
          new GetShardIteratorCommand({
            StreamArn: streamArn,
            ShardId: shardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        );
        iterators.set(shardId, start.ShardIterator);
      }
      const records: DynamoDBRecord[] = [];
      for (const [shardId, iterator] of iterators) {
        let current = iterator;
        // A shard's GetRecords can come back empty before its end: read until nothing new.
        for (let reads = 0; current !== undefined && reads < 100; reads += 1) {
          const page = await streams.send(new GetRecordsCommand({ ShardIterator: current }));
          records.push(...(page.Records ?? []).map((record) => asLambdaRecord(record, streamArn)));
          current = page.NextShardIterator;
          if ((page.Records ?? []).length === 0) break;
        }
        iterators.set(shardId, current);
      }
      return { Records: records };
    },
    close: () => streams.destroy(),
  };
}

function asLambdaRecord(record: _Record, streamArn: string): DynamoDBRecord {
  const stream = record.dynamodb ?? {};
  const created = stream.ApproximateCreationDateTime;
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion,
    eventSource: record.eventSource,
    awsRegion: record.awsRegion,
    eventSourceARN: streamArn,
    dynamodb: {
      ...(created ? { ApproximateCreationDateTime: Math.floor(created.getTime() / 1000) } : {}),
      Keys: stream.Keys && asJsonImage(stream.Keys),
      ...(stream.NewImage ? { NewImage: asJsonImage(stream.NewImage) } : {}),
      ...(stream.OldImage ? { OldImage: asJsonImage(stream.OldImage) } : {}),
      SequenceNumber: stream.SequenceNumber,
      SizeBytes: stream.SizeBytes,
      StreamViewType: stream.StreamViewType,
    },
  } as DynamoDBRecord;
}

/** The image as Lambda's JSON has it: the SDK's Uint8Array binaries become base64 strings. */
function asJsonImage(image: Record<string, AttributeValue>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, asJsonValue(value)]));
}

function asJsonValue(value: AttributeValue): unknown {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString('base64')) };
  if (value.M !== undefined) return { M: asJsonImage(value.M) };
  if (value.L !== undefined) return { L: value.L.map(asJsonValue) };
  // S, N, SS, NS, BOOL, NULL are JSON already.
  return JSON.parse(JSON.stringify(value));
}
