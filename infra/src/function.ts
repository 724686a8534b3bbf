import path from 'node:path';
import { AssetHashType, DockerImage, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { readLambdaConfig } from '../../server/src/config';
import { METRICS_NAMESPACE } from '../../server/src/lambda/metrics';
import { createFunctionRole } from './function-role';
import { bundleLambda } from './lambda-bundle';
import type { ResourceNames } from './names';
import type { StackSettings } from './settings';
import type { Tables } from './tables';

const SERVER_SOURCE = path.resolve(__dirname, '../../server/src');

/**
 * The one function that serves the whole API (server/src/lambda.ts), with its logs and role;
 * with provisioned concurrency, also a `live` alias of its current version whose containers
 * are initialised ahead of requests (each code or configuration change publishes a new
 * version and moves the alias to it), which is then what API Gateway invokes.
 */
export function createFunction(
  scope: Construct,
  settings: StackSettings,
  names: ResourceNames,
  tables: Tables,
): { handler: lambda.Function; live: lambda.Alias | undefined } {
  const logGroup = new logs.LogGroup(scope, 'FunctionLogs', {
    logGroupName: names.logGroup,
    retention: settings.logRetention,
    removalPolicy: settings.isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
  const handler = new lambda.Function(scope, 'Function', {
    functionName: names.function,
    description: `Triggers API (${settings.stage}): the Express app behind API Gateway`,
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'index.handler',
    code: bundledServer(),
    memorySize: settings.memorySize,
    timeout: Duration.seconds(settings.timeoutSeconds),
    reservedConcurrentExecutions: settings.reservedConcurrency,
    environment: functionEnvironment(settings),
    role: createFunctionRole(scope, names, tables),
    logGroup,
  });
  if (settings.provisionedConcurrency === undefined) return { handler, live: undefined };
  const live = new lambda.Alias(scope, 'LiveAlias', {
    aliasName: 'live',
    version: handler.currentVersion,
    provisionedConcurrentExecutions: settings.provisionedConcurrency,
  });
  return { handler, live };
}

function functionEnvironment(settings: StackSettings): Record<string, string> {
  const environment: Record<string, string> = {
    TRIGGERS_STAGE: settings.stage,
    TRIGGERS_STORE: 'dynamodb',
    AUTH_MODE: 'aws',
    LOG_LEVEL: 'info',
    POWERTOOLS_SERVICE_NAME: 'triggers-api',
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
  };
  if (settings.retentionDays !== undefined) environment.TRIGGERS_RETENTION_DAYS = settings.retentionDays;
  // The function validates its settings at start; refuse a bad stage or retention now, at
  // synth, rather than deploy a function whose every cold start fails.
  readLambdaConfig(environment);
  return environment;
}

/**
 * The server bundled by esbuild on this machine (infra/src/lambda-bundle.ts), the same bundle
 * the Lambda tests load. The Docker image is only a fallback the type requires: local
 * bundling either succeeds or throws, so Docker is never used. Hashing the output (not the
 * sources) means an unchanged bundle is not uploaded again.
 */
function bundledServer(): lambda.Code {
  return lambda.Code.fromAsset(SERVER_SOURCE, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs24.x'),
      local: {
        tryBundle(outputDir: string) {
          bundleLambda(outputDir);
          return true;
        },
      },
    },
  });
}
