import { randomUUID } from 'node:crypto';
import { type Server, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '../errors';

interface Refusal {
  status: number;
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
}

/**
 * Requests Node's HTTP parser refuses before Express sees them — headers over
 * `maxHeaderSize` (431), a request slower than `headersTimeout`/`requestTimeout` (408), bytes
 * that are not HTTP (400) — are answered in the error envelope too, as JSON, instead of Node's
 * bare status line. Node's own rules are kept: nothing is written once an answer has begun,
 * and the connection is closed.
 */
export function answerClientErrorsAsJson(server: Server, limits: { maxHeaderBytes: number }): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) {
      socket.write(render(refusalFor(error, limits.maxHeaderBytes)));
    }
    socket.destroy();
  });
}

function refusalFor(error: NodeJS.ErrnoException, maxHeaderBytes: number): Refusal {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        code: 'PAYLOAD_TOO_LARGE',
        message: `The request headers are over their limit of ${maxHeaderBytes} bytes.`,
        details: { limit_bytes: maxHeaderBytes },
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        code: 'VALIDATION_ERROR',
        message: 'The request did not arrive in time.',
        details: { errors: [{ path: '/', message: 'was not received in time' }] },
      };
    default:
      return {
        status: 400,
        code: 'VALIDATION_ERROR',
        message: 'The request is not valid HTTP/1.1.',
        details: { errors: [{ path: '/', message: 'is not valid HTTP/1.1' }] },
      };
  }
}

function render({ status, code, message, details }: Refusal): string {
  const requestId = `req_${randomUUID().replaceAll('-', '')}`;
  const body = JSON.stringify({ error: { code, message, details, request_id: requestId } });
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    `X-Request-ID: ${requestId}`,
    'X-Content-Type-Options: nosniff',
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}
