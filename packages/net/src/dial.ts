import { type Socket, connect } from 'node:net';
import { LaminateError } from '@laminate/core';
import { type ClientConnection, FINAL } from './client-connection.js';
import { parseAddress } from './protocol.js';

/** Socket errors of a server that is not listening yet, or is restarting: worth trying again. */
const TRANSIENT = ['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAGAIN'];

/**
 * Opens a connection to the server at `address` and says hello on it
 * (`greet`), trying again with growing pauses (20 ms, doubling up to 0.5 s)
 * for `timeoutMs` while the server cannot be reached; a refusal that would
 * come again (FINAL) ends the tries at once.
 */
export async function dial(address: string, timeoutMs: number, greet: (socket: Socket) => Promise<ClientConnection | Error>): Promise<ClientConnection> {
  const target = parseAddress(address);
  const deadline = performance.now() + timeoutMs;
  let delay = 20;
  for (;;) {
    const socket = await new Promise<Socket | NodeJS.ErrnoException>((resolve) => {
      const socket = target.kind === 'unix' ? connect(target.path) : connect(target.port, target.host);
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (error) => resolve(error));
    });
    let failure: Error;
    if (!(socket instanceof Error)) {
      const hello = await greet(socket);
      if (!(hello instanceof Error)) return hello;
      failure = hello;
      if (FINAL.has((failure as LaminateError).code)) throw failure;
    } else {
      failure = socket;
      if (!TRANSIENT.includes(socket.code ?? '')) throw unreachable(address, failure);
    }
    const left = deadline - performance.now();
    if (left <= 0) throw unreachable(address, failure);
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
    delay = Math.min(delay * 2, 500);
  }
}

export function unreachable(address: string, cause: Error): LaminateError {
  return new LaminateError('ERR_CONNECTION', `Cannot reach the laminate server at ${address}: ${cause.message}. Is serve() running there? (A client keeps trying for connectTimeoutMs.)`, { cause });
}
