import { App } from 'aws-cdk-lib';
import { createTriggersStack } from '../src/triggers-stack';

/** The CDK app (cdk.json): one stack, `TriggersApi-{stage}`, for the stage in context (default dev). */
const app = new App();
createTriggersStack(app);
app.synth();
