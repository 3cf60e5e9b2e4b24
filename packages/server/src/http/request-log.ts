import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

/** One line per finished request; the path only, since query strings can carry credentials. */
export class RequestLogs extends LogController {
  constructor() {
    super({ requestIdLogLabel: 'request_id' });
  }
  override incomingRequest(): void {}
  override requestCompleted(_err: unknown, req: FastifyRequest, reply: FastifyReply): void {
    // the line is not built at all when info is off
    const log = reply.log as { isLevelEnabled?: (level: string) => boolean };
    if (log.isLevelEnabled && !log.isLevelEnabled('info')) return;
    reply.log.info(
      {
        method: req.method,
        path: req.url.split('?')[0],
        route: req.routeOptions.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request completed',
    );
  }
}
