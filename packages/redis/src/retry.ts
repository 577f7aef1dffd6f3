import { LaminateError } from '@laminate/core/layer';

/**
 * Failures after which a command can be sent again. A cluster answers
 * MOVED/ASK/TRYAGAIN/CLUSTERDOWN while a slot moves or a master fails over:
 * ioredis follows them for a single command, but a command sent in an
 * automatic pipeline gets the error back. A dropped connection aborts the
 * pipelines in flight instead of resending them. Every command the layer
 * sends is safe to repeat (the append script applies a sequence once), so it
 * sends them again.
 */
const TRANSIENT = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|LOADING|READONLY|MASTERDOWN)\b/;

export function isTransient(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof LaminateError) return false;
  return error.name !== 'ReplyError' || TRANSIENT.test(error.message);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `send` until it succeeds, retrying transient replies with a growing
 * pause for at most `patienceMs`; `moved` runs before a retry after a
 * redirection (the cluster's slot map is stale).
 */
export async function retried<T>(send: () => Promise<T>, patienceMs: number, moved?: () => Promise<unknown>): Promise<T> {
  const deadline = Date.now() + patienceMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      if (!isTransient(error) || Date.now() > deadline) throw laminateError(error);
      if (moved && /^(MOVED|ASK)\b/.test((error as Error).message)) await moved();
      await sleep(Math.min(5 * 2 ** attempt, 250));
    }
  }
}

/** What ioredis threw, as a LaminateError with a code a caller can act on. */
export function laminateError(error: unknown): Error {
  if (error instanceof LaminateError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/^(NOAUTH|WRONGPASS|NOPERM)\b/.test(message)) {
    return new LaminateError('ERR_AUTH', `Redis refused the credentials (${message}); pass the user and password in the URL, the username/password options or LAMINATE_REDIS_USERNAME/LAMINATE_REDIS_PASSWORD.`, { cause: error });
  }
  if (error instanceof Error && error.name === 'ReplyError') {
    return new LaminateError('ERR_SERVER', `Redis answered with an error: ${message}.`, { cause: error });
  }
  return new LaminateError('ERR_CONNECTION', `Redis could not be reached or the connection was lost (${message}); check that the server runs and the URL, or raise connectTimeoutMs.`, { cause: error });
}
