import type { Socket } from 'node:net';

/**
 * Writes frames to a socket, corking it until `flushLater` runs, so that the
 * frames written meanwhile leave in one system call: on loopback a write
 * costs as much as the work of a small request, and requests and replies
 * come in bursts. The server flushes when the event loop turns
 * (setImmediate), gathering the replies that finish during that turn; the
 * client flushes at the end of the current tick (process.nextTick), gathering
 * the calls made together without holding them back any longer.
 */
export class CorkedWriter {
  private corked = false;

  constructor(
    private readonly socket: Socket,
    private readonly flushLater: (flush: () => void) => void,
  ) {}

  /** Writes a frame's buffers in order; `written` runs once the socket has taken the last of them. */
  write(buffers: readonly Buffer[], written?: () => void): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      this.flushLater(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    for (let i = 0; i < buffers.length - 1; i++) this.socket.write(buffers[i]);
    this.socket.write(buffers[buffers.length - 1], written);
  }
}
