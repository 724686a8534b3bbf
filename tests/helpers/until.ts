/**
 * Resolves once `condition()` holds, looking again every few milliseconds of real time: for
 * what happens on the event loop (a request has started waiting), never for the app's clock,
 * which tests move by hand. Fails, naming `what`, after `timeoutMs`.
 */
export async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
