import { EXIT } from './errors.js';

export interface Stopper {
  /** Aborted by the first Ctrl-C (SIGINT) or SIGTERM. */
  signal: AbortSignal;
  /** 130 after SIGINT, 143 after SIGTERM, undefined while no signal came. */
  exitCode(): number | undefined;
  dispose(): void;
}

/**
 * For the commands that run until stopped (tail, listen): the first SIGINT or SIGTERM aborts
 * `signal`, so the command cuts its long poll and gives back (nacks) what it holds before it
 * exits; a second one exits at once, without giving anything back.
 */
export function stopOnSignals(): Stopper {
  const controller = new AbortController();
  let code: number | undefined;
  const on = (signal: 'SIGINT' | 'SIGTERM') => () => {
    const exitCode = signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm;
    if (code !== undefined) process.exit(exitCode);
    code = exitCode;
    controller.abort(new Error(`stopped by ${signal}`));
  };
  const onInt = on('SIGINT');
  const onTerm = on('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return {
    signal: controller.signal,
    exitCode: () => code,
    dispose() {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    },
  };
}

/** Waits `ms` of real time, or less if `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
