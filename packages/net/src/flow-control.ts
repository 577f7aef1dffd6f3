/**
 * Flow control (docs/protocol.md): the server counts, per connection and in
 * total, every byte it holds for a connection — what it has received and not
 * yet answered (a partly received frame too), room reserved for the replies
 * of reads under way, replies the socket has not yet taken, and cursors'
 * pending chunks. A read starts only when its reply fits, and a busy
 * connection over its bound (or any busy connection while the server is over
 * its total) is not read until bytes leave; TCP then stops the client.
 */
import type { Socket } from 'node:net';

/** The bytes held over the whole server, and the connections waiting for some to leave. */
export class ServerFlow {
  private bytes = 0;
  private peakBytes = 0;
  /** Connections not being read or with a request waiting for room, to wake when bytes leave (shared with ConnectionFlow). */
  readonly blocked = new Set<ConnectionFlow>();

  constructor(private readonly maxTotalBytes: number) {}

  get bytesInFlight(): number {
    return this.bytes;
  }

  /** The most bytesInFlight has been since the server started. */
  get peakBytesInFlight(): number {
    return this.peakBytes;
  }

  /** Connections whose socket is not being read now. */
  get pausedConnections(): number {
    let paused = 0;
    for (const connection of this.blocked) if (connection.paused) paused++;
    return paused;
  }

  get overTotal(): boolean {
    return this.bytes >= this.maxTotalBytes;
  }

  roomFor(bytes: number): boolean {
    return this.bytes + bytes <= this.maxTotalBytes;
  }

  /** Counts bytes entering (positive) or leaving (negative) the server's memory; lets waiting connections go on when there is room again. */
  account(bytes: number): void {
    this.bytes += bytes;
    if (this.bytes > this.peakBytes) this.peakBytes = this.bytes;
    if (bytes < 0 && this.blocked.size > 0 && !this.overTotal) for (const connection of [...this.blocked]) connection.update();
  }
}

/**
 * One connection's bytes, its requests under way, and whether its socket is
 * read. A request holds the connection from its start until the socket has
 * taken its reply; a read also reserves room for its reply from its start
 * until the reply is built (its size told by the store), or, when the store
 * cannot tell, runs as the connection's only read of unknown size.
 */
export class ConnectionFlow {
  private bytes = 0;
  /** Requests started whose reply the socket has not yet taken. */
  private requests = 0;
  /** Reads started whose reply size the store could not tell: one at a time, each only when there is room. */
  private unsized = 0;
  /** A request waiting for room (requests start in order, so there is at most one). */
  private waiting?: { reply: number | undefined; admitted: (started: boolean) => void };
  paused = false;
  /** No more reading or starting: the connection failed, or closed. */
  private stopped = false;
  private closed = false;

  constructor(
    private readonly server: ServerFlow,
    private readonly socket: Socket,
    private readonly maxConnectionBytes: number,
  ) {}

  /** Counts bytes of this connection entering (positive) or leaving (negative) the server's memory. */
  account(bytes: number): void {
    if (this.closed) return;
    this.bytes += bytes;
    this.server.account(bytes);
    if (bytes < 0) this.update();
  }

  /**
   * Starts a request whose reply takes `reply` bytes (0 for no payloads;
   * undefined when the store could not tell): true when it starts now, false
   * when the connection has stopped, else a promise of true once there is
   * room, or of false if the connection stops or closes first. A connection
   * with no request under way always starts the next one, so a client holding
   * the store's lock can always end its section.
   */
  admit(reply: number | undefined): boolean | Promise<boolean> {
    if (this.stopped) return false;
    if (this.fits(reply)) {
      this.start(reply);
      return true;
    }
    return new Promise<boolean>((admitted) => {
      this.waiting = { reply, admitted };
      this.update();
    });
  }

  private fits(reply: number | undefined): boolean {
    if (this.stopped) return false;
    if (this.requests === 0 || reply === 0) return true;
    if (reply === undefined) return this.unsized === 0 && this.bytes < this.maxConnectionBytes && !this.server.overTotal;
    return this.bytes + reply <= this.maxConnectionBytes && this.server.roomFor(reply);
  }

  private start(reply: number | undefined): void {
    this.requests++;
    if (reply === undefined) this.unsized++;
    else this.account(reply);
  }

  /** The request's reply is built and counted as written bytes: the room reserved for it is let go. */
  answered(reply: number | undefined): void {
    if (reply === undefined) {
      this.unsized--;
      this.update();
    } else this.account(-reply);
  }

  /** The socket took the request's reply (or the connection closed before it could). */
  done(): void {
    this.requests--;
    this.update();
  }

  /**
   * Starts the request waiting for room when there is room, and pauses or
   * resumes reading the socket. A connection with no request under way is
   * always read: only more bytes from its client can move it on (a partly
   * received frame, a client that holds the lock), and what it holds is
   * bounded by one frame.
   */
  update(): void {
    if (this.stopped) return;
    const waiting = this.waiting;
    if (waiting && this.fits(waiting.reply)) {
      this.waiting = undefined;
      this.start(waiting.reply);
      waiting.admitted(true);
    }
    const pause = this.requests > 0 && (this.bytes >= this.maxConnectionBytes || this.server.overTotal);
    if (pause !== this.paused) {
      this.paused = pause;
      if (pause) this.socket.pause();
      else this.socket.resume();
    }
    if (this.paused || this.waiting) this.server.blocked.add(this);
    else this.server.blocked.delete(this);
  }

  /** Lets a request waiting for room go without starting it (its connection is closing); it is answered, not run. */
  release(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.admitted(false);
    this.update();
  }

  /** The connection failed: nothing more is read or started. The bytes it holds stay counted until it closes. */
  stop(): void {
    this.release();
    this.stopped = true;
    this.paused = true;
    this.socket.pause();
    this.server.blocked.delete(this);
  }

  /** The socket closed: every byte it held leaves the count, and nothing more is counted. */
  close(): void {
    this.stop();
    this.server.account(-this.bytes);
    this.bytes = 0;
    this.closed = true;
  }
}
