/**
 * The first message on a connection: `hello`, with the protocol version, the
 * token and the client's name. Until it is accepted a connection is a
 * stranger's, so it may send only a small frame (HELLO_MAX_BYTES): a peer
 * without the token cannot make the server hold more than that.
 */
import { LaminateError } from '@laminate/core';
import { type Header, PROTOCOL_VERSION, protocolError } from './protocol.js';

/** The largest frame a connection may send before its hello is accepted; a hello with the longest token allowed fits. */
export const HELLO_MAX_BYTES = 4096;
/** The longest token serve() takes, in UTF-8 bytes. */
export const MAX_TOKEN_BYTES = 1024;

/** ERR_TOO_LARGE for a first frame over HELLO_MAX_BYTES. */
export function helloTooLarge(bytes: number): LaminateError {
  return new LaminateError(
    'ERR_TOO_LARGE',
    `A first message of ${bytes} bytes is larger than the ${HELLO_MAX_BYTES} bytes a connection may send before its hello is accepted; send "hello" first (with a token of at most ${MAX_TOKEN_BYTES} bytes). Is the peer a laminate client?`,
  );
}

/**
 * Checks a hello: the protocol version, the token (`accepts` compares it),
 * and the client's name. Returns the name (undefined when the client gave
 * none), or throws the error the connection closes with.
 */
export function checkHello(header: Header, accepts: (token: unknown) => boolean): string | undefined {
  if (header.op !== 'hello') throw protocolError('the first message must be "hello"');
  if (header.version !== PROTOCOL_VERSION) throw protocolError(`the client speaks protocol version ${String(header.version)}, this server ${PROTOCOL_VERSION}`);
  if (!accepts(header.token)) throw new LaminateError('ERR_AUTH', 'The server refused the token: pass the token the server was started with ({ token } or LAMINATE_TOKEN).');
  const client = header.client;
  if (client === undefined) return undefined;
  if (typeof client !== 'string' || client.length === 0 || client.length > 128) throw protocolError('"client" must be a string of 1 to 128 characters');
  return client;
}
