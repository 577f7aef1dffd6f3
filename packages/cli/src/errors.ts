import { LaminateError, isLaminateError } from '@laminate/core';

/**
 * Errors about how the command was called (unknown command or option, a
 * missing argument, a spec that does not parse) exit with 2; every other
 * failure exits with 1. A usage error is still a LaminateError with a stable
 * code; this set only remembers which ones the user can fix by rereading
 * `--help`. (A subclass would not do: LaminateError's instanceof matches any
 * LaminateError, so `instanceof UsageError` could not tell them apart.)
 */
const usageErrors = new WeakSet<object>();

/** The command whose `--help` a usage error points to, if any. */
const helpFor = new WeakMap<object, string>();

export function usageError(message: string, command?: string): LaminateError {
  return markUsage(new LaminateError('ERR_INVALID_OPTION', message), command);
}

export function markUsage<E extends object>(error: E, command?: string): E {
  usageErrors.add(error);
  if (command !== undefined) helpFor.set(error, command);
  return error;
}

export function isUsage(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (usageErrors.has(error) || isLaminateError(error, 'ERR_INVALID_SPEC'));
}

export function helpTopic(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? helpFor.get(error) : undefined;
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
