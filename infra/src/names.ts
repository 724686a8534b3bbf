import { dynamoTableNames } from '../../server/src/store/dynamodb/tables';

/**
 * Every physical name in the stack, derived from the stage so that stages share an account
 * without colliding. The table names come from the server, which finds its tables by them.
 */
export function resourceNames(stage: string) {
  const base = `triggers-api-${stage}`;
  return {
    stack: `TriggersApi-${stage}`,
    tables: dynamoTableNames(stage),
    function: base,
    // Lambda's own default for the function, so its logs land where anyone would look.
    logGroup: `/aws/lambda/${base}`,
    api: base,
    /** Webhook delivery (delivery.ts): two functions, each with Lambda's default log group. */
    delivery: {
      stream: `${base}-webhook-stream`,
      streamLogGroup: `/aws/lambda/${base}-webhook-stream`,
      sweep: `${base}-webhook-sweep`,
      sweepLogGroup: `/aws/lambda/${base}-webhook-sweep`,
      sweepRule: `${base}-webhook-sweep`,
      streamFailureQueue: `${base}-webhook-stream-failures`,
    },
    alarmTopic: `triggers-api-alarms-${stage}`,
    alarm: (what: string) => `${base}-${what}`,
  };
}

export type ResourceNames = ReturnType<typeof resourceNames>;
