import type { Socket } from 'node:net';

/**
 * Ends our side of a socket and waits until it has closed (`closed`), after
 * the peer has read what was written; a peer that never closes its side is
 * cut off after 2 s, so closing never hangs.
 */
export async function endSocket(socket: Socket, closed: Promise<void>): Promise<void> {
  socket.end();
  const timer = setTimeout(() => socket.destroy(), 2000);
  await closed;
  clearTimeout(timer);
}
