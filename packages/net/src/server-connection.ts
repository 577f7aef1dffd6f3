import type { Socket } from 'node:net';
import { LaminateError } from '@laminate/core';
import { CorkedWriter } from './corked-writer.js';
import { Cursors } from './cursors.js';
import { type Reply, dispatch } from './dispatch.js';
import { endSocket } from './end-socket.js';
import { ConnectionFlow } from './flow-control.js';
import { ConnectionLock } from './lock-section.js';
import { FrameReader, type Header, type Message, PROTOCOL_VERSION, byteLength, encodeFrame, errorToWire, protocolError, tooLarge } from './protocol.js';
import type { Server } from './server.js';
import { CHANGES, type Outcome, type Session } from './sessions.js';

/** One client's socket on the server: its hello, its requests and their replies. */
export class ServerConnection {
  private readonly reader: FrameReader;
  private readonly writer: CorkedWriter;
  private readonly flow: ConnectionFlow;
  private readonly lock: ConnectionLock;
  private readonly cursors: Cursors;
  private authed = false;
  private failed = false;
  private finishing = false;
  /** Requests not yet answered: finish() waits for them. */
  private readonly pending = new Set<Promise<void>>();
  private session?: Session;
  private readonly closed: Promise<void>;

  constructor(
    private readonly server: Server,
    private readonly socket: Socket,
  ) {
    this.reader = new FrameReader(server.maxMessageBytes);
    this.writer = new CorkedWriter(socket, (flush) => setImmediate(flush));
    this.flow = new ConnectionFlow(server.flow, socket, server.limits.maxConnectionBytes);
    this.lock = new ConnectionLock(server.store);
    this.cursors = new Cursors(server.maxMessageBytes);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.once('close', () => {
      this.flow.close();
      this.lock.abandon();
      this.cursors.closeAll();
      if (this.session) this.server.sessions.leave(this.session);
    });
  }

  private onData(chunk: Buffer): void {
    if (this.failed) return;
    let messages: Message[];
    try {
      messages = this.reader.push(chunk);
    } catch (error) {
      return this.fail(error as LaminateError);
    }
    for (const message of messages) {
      if (this.failed) return;
      this.handle(message);
    }
    this.flow.update();
  }

  /** Reports a connection-level error (reply id 0 unless given) and closes the connection. */
  private fail(error: LaminateError, id = 0): void {
    if (this.failed) return;
    this.failed = true;
    this.socket.pause();
    this.write({ id, error: errorToWire(error) });
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** Writes one reply; its bytes count as in flight until the socket has taken them. */
  private write(header: Header, payloads: readonly Uint8Array[] = []): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    let buffers = encodeFrame(header, payloads);
    let bytes = byteLength(buffers);
    if (bytes > this.server.maxMessageBytes) {
      buffers = encodeFrame({ id: header.id, error: errorToWire(tooLarge(bytes, this.server.maxMessageBytes)) });
      bytes = byteLength(buffers);
    }
    this.flow.account(bytes);
    this.writer.write(buffers, () => this.flow.account(-bytes));
  }

  /** The first message: checks the protocol version and the token, and joins the client's session. */
  private hello(header: Header): void {
    const id = header.id;
    if (header.op !== 'hello') return this.fail(protocolError('the first message must be "hello"'), id);
    if (header.version !== PROTOCOL_VERSION) return this.fail(protocolError(`the client speaks protocol version ${String(header.version)}, this server ${PROTOCOL_VERSION}`), id);
    if (!this.server.accepts(header.token)) {
      return this.fail(new LaminateError('ERR_AUTH', 'The server refused the token: pass the token the server was started with ({ token } or LAMINATE_TOKEN).'), id);
    }
    if (header.client !== undefined) {
      if (typeof header.client !== 'string' || header.client.length === 0 || header.client.length > 128) return this.fail(protocolError('"client" must be a string of 1 to 128 characters'), id);
      this.session = this.server.sessions.join(header.client);
    }
    this.authed = true;
    this.write({ id, ok: true, version: PROTOCOL_VERSION, maxMessageBytes: this.server.maxMessageBytes });
  }

  private handle({ header, payloads }: Message): void {
    if (!this.authed) return this.hello(header);
    const { id, op } = header;
    let work: () => Promise<Reply>;
    try {
      work = dispatch(header, payloads, { store: this.server.store, lock: this.lock, cursors: this.cursors });
    } catch (error) {
      return this.fail(error as LaminateError, id);
    }
    if (this.finishing) return this.write({ id, error: errorToWire(new LaminateError('ERR_CLOSED', 'The server is closing; it takes no new requests.')) });

    const bytes = byteLength(payloads);
    this.flow.account(bytes);
    const run = (): Promise<Outcome> => this.lock.run(work, header.locked === true).then((reply) => ({ reply }), (error: unknown) => ({ error }));
    let outcome: Promise<Outcome>;
    if (this.session && typeof op === 'string' && CHANGES.has(op)) {
      // A change a reconnecting client sent again: answer with the first copy's outcome instead of applying it twice.
      const seen = this.server.sessions.recall(this.session, id, header.ack);
      if (seen) this.server.duplicates++;
      outcome = seen ?? this.server.sessions.remember(this.session, id, run());
    } else {
      if (this.session) this.server.sessions.acknowledge(this.session, header.ack);
      outcome = run();
    }
    const done = outcome.then((result) => {
      this.flow.account(-bytes);
      if ('reply' in result) this.write({ id, ok: true, ...result.reply.header }, result.reply.payloads);
      else this.write({ id, error: errorToWire(result.error) });
    });
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }

  /** Lets the requests in flight finish and be answered, then closes the connection. */
  async finish(): Promise<void> {
    this.finishing = true;
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    await this.lock.release();
    await endSocket(this.socket, this.closed);
  }
}
