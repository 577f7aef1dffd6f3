import { LaminateError, isLaminateError } from '@laminate/core';

/**
 * Errors about how the command was called (unknown command or option, a
 * missing argument, a spec that does not parse) exit with 2; every other
 * failure exits with 1. A usage error is still a LaminateError with a stable
 * code, and names the command whose `--help` to reread.
 */
export class UsageError extends LaminateError {
  constructor(
    error: { code: LaminateError['code']; message: string; key?: string; offset?: number; cause?: unknown },
    readonly command?: string,
  ) {
    super(error.code, error.message, { key: error.key, offset: error.offset, cause: error.cause });
  }
}

export function usageError(message: string, command?: string): UsageError {
  return new UsageError({ code: 'ERR_INVALID_OPTION', message }, command);
}

/** The same error (code, message, key), as one the user fixes by rereading `laminate COMMAND --help`. */
export function markUsage(error: LaminateError, command?: string): UsageError {
  return new UsageError({ code: error.code, message: error.message, key: error.key, offset: error.offset, cause: error }, command);
}

export function isUsage(error: unknown): boolean {
  return error instanceof UsageError || isLaminateError(error, 'ERR_INVALID_SPEC');
}

export function helpTopic(error: unknown): string | undefined {
  return error instanceof UsageError ? error.command : undefined;
}

/** The names within two edits of `name`, for "did you mean". */
export function near(name: string, names: readonly string[]): string[] {
  return names.filter((candidate) => distance(candidate, name) <= 2);
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length];
}
