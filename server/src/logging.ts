import pino, { type Logger } from 'pino';
import type { Config } from './config';

/**
 * How pino-pretty lays out a line for a person at a terminal: the time of day, the level, the
 * message, then the other fields on the same line. A request line reads `request completed:
 * POST /v1/events 400 VALIDATION_ERROR in 2 ms {"request_id":…}`; the fields the message
 * already says, pid and hostname are not repeated. (Options cross to the transport's thread,
 * so the format is pino-pretty's template, not a function.)
 */
const PRETTY_OPTIONS = {
  translateTime: 'SYS:HH:MM:ss.l',
  messageFormat:
    '{msg}{if req.method}: {req.method} {req.url} {res.status}{end}{if error_code} {error_code}{end}{if latency_ms} in {latency_ms} ms{end}',
  ignore: 'pid,hostname,req,res,latency_ms,error_code',
  singleLine: true,
};

/**
 * The process logger of `npm start` (local.ts): JSON lines, or readable lines with pino-pretty
 * (`config.logFormat`). Either way logging never blocks a request on a write to stdout: the
 * JSON destination is asynchronous, and pino-pretty runs as a pino transport, on its own
 * thread. The Lambda entry points log JSON only, for CloudWatch, and never load pino-pretty.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>): Logger {
  if (config.logFormat === 'pretty') {
    return pino(
      { level: config.logLevel },
      pino.transport({ target: 'pino-pretty', options: PRETTY_OPTIONS }),
    );
  }
  return pino({ level: config.logLevel }, pino.destination({ sync: false }));
}
