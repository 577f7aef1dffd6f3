/**
 * Every error laminate throws on purpose is a LaminateError with a stable code.
 * Errors about the caller's arguments are also TypeErrors, so code that checks
 * `instanceof TypeError` keeps working.
 */
export type ErrorCode =
  | 'ERR_INVALID_KEY'
  | 'ERR_VALUE_TYPE'
  | 'ERR_INVALID_OPTION'
  | 'ERR_INVALID_SPEC'
  | 'ERR_CORRUPT_FRAME'
  | 'ERR_CORRUPT'
  | 'ERR_DTYPE'
  | 'ERR_SCHEMA'
  | 'ERR_LOCKED'
  | 'ERR_CLOSED'
  | 'ERR_CONNECTION'
  | 'ERR_PROTOCOL'
  | 'ERR_AUTH'
  | 'ERR_TOO_LARGE'
  | 'ERR_DISK_FULL'
  | 'ERR_READ_ONLY'
  | 'ERR_PERMISSION'
  | 'ERR_IO'
  | 'ERR_NOT_SUPPORTED'
  | 'ERR_NOT_FOUND'
  | 'ERR_NOT_A_STORE'
  | 'ERR_FOREIGN_FILES'
  | 'ERR_SYMLINK'
  | 'ERR_SERVER'
  | 'ERR_NOT_REPLICATED'
  | 'ERR_ABORTED'
  | 'ERR_TRIMMED';

const brand = Symbol.for('laminate.error');

export interface LaminateError extends Error {
  readonly code: ErrorCode;
  readonly key?: string;
  readonly offset?: number;
  /**
   * On ERR_CORRUPT_FRAME: true when the key ends in a torn tail that
   * repair(key) cuts, false when it is damaged elsewhere and repair() refuses.
   */
  readonly repairable?: boolean;
}

export interface ErrorDetails {
  key?: string;
  offset?: number;
  repairable?: boolean;
  cause?: unknown;
}

function decorate<E extends Error>(error: E, code: ErrorCode, details: ErrorDetails): E & LaminateError {
  Object.defineProperty(error, brand, { value: true });
  Object.assign(error, { code });
  if (details.key !== undefined) Object.assign(error, { key: details.key });
  if (details.offset !== undefined) Object.assign(error, { offset: details.offset });
  if (details.repairable !== undefined) Object.assign(error, { repairable: details.repairable });
  return error as E & LaminateError;
}

export class LaminateError extends Error {
  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'LaminateError';
    decorate(this, code, details);
  }

  /**
   * `instanceof LaminateError` holds for every error laminate throws on
   * purpose, including those that are TypeErrors (typeError()) and those made
   * by another copy of this module. A subclass keeps the ordinary prototype
   * check, so `instanceof` still tells subclasses apart.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== LaminateError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }
}

/** A LaminateError that is also a TypeError: the caller passed the wrong kind of thing. */
export function typeError(code: ErrorCode, message: string, details: ErrorDetails = {}): LaminateError {
  const error = new TypeError(message, details.cause === undefined ? undefined : { cause: details.cause });
  error.name = 'LaminateError';
  return decorate(error, code, details);
}

export function isLaminateError(value: unknown, code?: ErrorCode): value is LaminateError {
  return value instanceof LaminateError && (code === undefined || (value as LaminateError).code === code);
}
