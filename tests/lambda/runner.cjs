// A stand-in for the Lambda runtime, run as its own Node process: it requires the bundle
// (as the runtime does at init), then invokes `handler` with the events the parent sends over
// IPC and sends back each result with how long it took. stdout stays free for the function's
// own output (JSON logs and EMF metrics), which the parent reads.
const started = performance.now();
const { handler } = require(process.env.LAMBDA_BUNDLE);
const requireMs = performance.now() - started;
process.send({ type: 'loaded', requireMs });

let invocations = 0;
process.on('message', async ({ id, event }) => {
  invocations += 1;
  const context = {
    awsRequestId: `invocation-${invocations}`,
    functionName: 'triggers-api-test',
    getRemainingTimeInMillis: () => 10_000,
  };
  const begun = performance.now();
  try {
    const result = await handler(event, context);
    process.send({ id, result, ms: performance.now() - begun });
  } catch (error) {
    process.send({ id, error: String(error?.stack ?? error), ms: performance.now() - begun });
  }
});
