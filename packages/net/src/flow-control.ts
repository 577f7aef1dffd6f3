/**
 * Flow control (docs/protocol.md): the server counts, per connection and in
 * total, the bytes of requests it has read and not yet answered plus the
 * bytes of replies the socket has not yet taken. A connection over its own
 * bound, or any busy connection while the server is over its total, is not
 * read until bytes leave; TCP then stops the client.
 */
import type { Socket } from 'node:net';

/** The bytes in flight over the whole server, and the connections it stopped reading. */
export class ServerFlow {
  private bytes = 0;
  private peakBytes = 0;
  /** Connections not being read, to wake when bytes leave (shared with ConnectionFlow). */
  readonly paused = new Set<ConnectionFlow>();

  constructor(private readonly maxTotalBytes: number) {}

  get bytesInFlight(): number {
    return this.bytes;
  }

  /** The most bytesInFlight has been since the server started. */
  get peakBytesInFlight(): number {
    return this.peakBytes;
  }

  get overTotal(): boolean {
    return this.bytes >= this.maxTotalBytes;
  }

  /** Counts bytes entering (positive) or leaving (negative) the server's memory; lets paused connections go on when there is room again. */
  account(bytes: number): void {
    this.bytes += bytes;
    if (this.bytes > this.peakBytes) this.peakBytes = this.bytes;
    if (bytes < 0 && this.paused.size > 0 && this.bytes < this.maxTotalBytes) for (const connection of this.paused) connection.update();
  }
}

/** One connection's bytes in flight, and whether its socket is read. */
export class ConnectionFlow {
  private bytes = 0;

  constructor(
    private readonly server: ServerFlow,
    private readonly socket: Socket,
    private readonly maxConnectionBytes: number,
  ) {}

  /** Counts bytes of this connection entering (positive) or leaving (negative) the server's memory. */
  account(bytes: number): void {
    this.bytes += bytes;
    this.server.account(bytes);
    if (bytes < 0) this.update();
  }

  /**
   * Pauses or resumes reading the socket. A connection with nothing in
   * flight is always read, so a client holding the store's lock can always
   * send the request that ends its section.
   */
  update(): void {
    const over = this.bytes > 0 && (this.bytes >= this.maxConnectionBytes || this.server.overTotal);
    const paused = this.server.paused.has(this);
    if (over && !paused) {
      this.server.paused.add(this);
      this.socket.pause();
    } else if (!over && paused) {
      this.server.paused.delete(this);
      this.socket.resume();
    }
  }

  /** The socket closed: nothing left to wake. */
  close(): void {
    this.server.paused.delete(this);
  }
}
