// A stand-in for the Lambda runtime, run as its own Node process: it requires the bundle
// (as the runtime does at init), then invokes the named export (`handler` unless the message
// names another) with the events the parent sends over IPC and sends back each result with
// how long it took. stdout stays free for the function's own output (JSON logs and EMF
// metrics), which the parent reads. LAMBDA_TIMEOUT_MS is the function's timeout (10 s unless
// set): getRemainingTimeInMillis counts down from it, as Lambda's does.
const started = performance.now();
const bundle = require(process.env.LAMBDA_BUNDLE);
const requireMs = performance.now() - started;
process.send({ type: 'loaded', requireMs });
const timeoutMs = Number(process.env.LAMBDA_TIMEOUT_MS ?? 10_000);

let invocations = 0;
process.on('message', async ({ id, event, handler = 'handler' }) => {
  invocations += 1;
  const deadline = Date.now() + timeoutMs;
  const context = {
    awsRequestId: `invocation-${invocations}`,
    functionName: 'triggers-api-test',
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
  const begun = performance.now();
  try {
    const result = await bundle[handler](event, context);
    process.send({ id, result, ms: performance.now() - begun });
  } catch (error) {
    process.send({ id, error: String(error?.stack ?? error), ms: performance.now() - begun });
  }
});
