import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { ResourceNames } from './names';
import type { StackSettings } from './settings';

/**
 * The REST API: only the routes the server serves, each a Lambda proxy to the one function.
 * Anything else is answered by API Gateway itself and never reaches (or bills) the function.
 */
export function createApi(
  scope: Construct,
  settings: StackSettings,
  names: ResourceNames,
  handler: lambda.IFunction,
): apigateway.RestApi {
  const api = new apigateway.RestApi(scope, 'Api', {
    restApiName: names.api,
    description: `Triggers API (${settings.stage})`,
    endpointConfiguration: { types: [apigateway.EndpointType.REGIONAL] },
    // That role is account-wide (execution logging for every API); we log from the function.
    cloudWatchRole: false,
    deployOptions: {
      stageName: settings.stage,
      // Applies to every method: a ceiling for the whole stage, in front of the per-key limits.
      throttlingRateLimit: settings.throttleRate,
      throttlingBurstLimit: settings.throttleBurst,
      metricsEnabled: true,
    },
  });
  // RestApi always adds an `Endpoint` output with a generated name; the stack's `ApiUrl` replaces it.
  api.node.tryRemoveChild('Endpoint');

  // Each method's invoke permission names its own method and path; no test-invoke permissions.
  const integration = new apigateway.LambdaIntegration(handler, { allowTestInvoke: false });
  // The stage's URL itself (the ApiUrl output): a redirect to the reference.
  api.root.addMethod('GET', integration);
  api.root.addResource('v1').addProxy({ defaultIntegration: integration, anyMethod: true });
  api.root.addResource('openapi.yaml').addMethod('GET', integration);
  const docs = api.root.addResource('docs');
  docs.addMethod('GET', integration);
  // The docs page loads Redoc and the document it renders relative to /docs.
  docs.addResource('redoc.standalone.js').addMethod('GET', integration);
  docs.addResource('reference.json').addMethod('GET', integration);
  return api;
}
