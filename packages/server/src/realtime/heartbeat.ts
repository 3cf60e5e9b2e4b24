import type { WebSocket } from 'ws';

/**
 * Ping/pong for every WebSocket of this instance (native streams and compat sockets alike): a
 * peer that has not answered the previous ping when the next one is due is terminated.
 */
export class Heartbeat {
  private readonly peers = new Map<WebSocket, { alive: boolean }>();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs: number) {
    this.timer = setInterval(() => this.beat(), intervalMs);
    this.timer.unref();
  }

  watch(socket: WebSocket): void {
    const state = { alive: true };
    this.peers.set(socket, state);
    socket.on('pong', () => {
      state.alive = true;
    });
    socket.once('close', () => this.peers.delete(socket));
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private beat(): void {
    for (const [socket, state] of this.peers) {
      if (!state.alive) {
        // no pong since the last ping: the peer is gone (or wedged); drop it
        socket.terminate();
        this.peers.delete(socket);
        continue;
      }
      state.alive = false;
      socket.ping();
    }
  }
}
