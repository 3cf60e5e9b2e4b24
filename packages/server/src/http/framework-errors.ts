import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ParleyError } from '../errors.js';
import { newId } from '../ids.js';
import type { SurfaceErrors } from './surface-errors.js';

/**
 * Refusals that Fastify's router or Node's HTTP parser make before any route runs — a malformed
 * %-escape in the path, a path parameter longer than the router takes, an unparseable request
 * line or header, a header block too large — answered in the error shape of the surface whose
 * path prefix the request names, with a request id, instead of the framework's own bodies.
 */

/** The Fastify router's refusals as Parley errors: both mean the path names nothing that exists. */
function routerError(err: FastifyError): ParleyError {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    // longer than any id can be: it names nothing, like any malformed id
    return new ParleyError('not_found', 'Not found: a path segment is longer than 500 characters');
  }
  if (err.code === 'FST_ERR_BAD_URL') {
    const message = 'The path is not valid percent-encoded UTF-8';
    return new ParleyError('validation_failed', message, { details: [{ field: '/path', message }] });
  }
  return new ParleyError('validation_failed', 'The request could not be routed');
}

/** Fastify's `frameworkErrors` option. `headers` adds what every answer of the service carries. */
export function frameworkErrorHandler(
  surfaces: () => SurfaceErrors,
  headers: (req: FastifyRequest, reply: FastifyReply) => Promise<void>,
) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply): void => {
    const e = routerError(err);
    const path = req.url.split('?')[0] ?? '';
    const out = surfaces().shapeFor(path)(e, req);
    reply.header('X-Request-ID', req.id);
    reply.header('X-Content-Type-Options', 'nosniff');
    headers(req, reply)
      .catch(() => undefined)
      .then(() => {
        reply
          .code(out.status ?? e.status)
          .type('application/json; charset=utf-8')
          .send(JSON.stringify(out.body));
      });
  };
}

/** Node's parser errors: which status and Parley error each one is. */
function clientError(err: NodeJS.ErrnoException): { status: number; error: ParleyError } {
  const code = err.code ?? '';
  if (code === 'HPE_HEADER_OVERFLOW') {
    return {
      status: 431,
      error: new ParleyError('validation_failed', 'The request line and headers are larger than the server accepts'),
    };
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return { status: 408, error: new ParleyError('validation_failed', 'The request was not received in time') };
  }
  const what: Record<string, string> = {
    HPE_INVALID_METHOD: 'The request method is not a valid HTTP method',
    HPE_INVALID_CONTENT_LENGTH: 'Content-Length is not a whole number',
    HPE_UNEXPECTED_CONTENT_LENGTH: 'Content-Length and Transfer-Encoding were both sent',
    HPE_INVALID_URL: 'The request target is not a valid URL (non-ASCII bytes must be percent-encoded)',
    HPE_INVALID_HEADER_TOKEN: 'A header name or value holds characters HTTP does not allow',
  };
  return {
    status: 400,
    error: new ParleyError('validation_failed', what[code] ?? 'The request is not valid HTTP/1.1'),
  };
}

/** The path of a request line, as far as it can be read from the bytes Node gave up on. */
function pathOf(raw: Buffer | undefined): string {
  if (!raw) return '';
  const line = raw.subarray(0, Math.min(raw.length, 8192)).toString('latin1').split('\r\n')[0] ?? '';
  return line.split(' ')[1] ?? '';
}

/** Fastify's `clientErrorHandler` option: writes the answer on the socket itself, then closes it. */
export function clientErrorHandler(surfaces: () => SurfaceErrors) {
  return (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const { status, error } = clientError(err);
    const id = newId('request');
    // the surface decides the body; the status stays what the parser's failure means
    const body = JSON.stringify(surfaces().shapeFor(pathOf(err.rawPacket))(error, { id }).body);
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
          `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
          `X-Request-ID: ${id}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}
