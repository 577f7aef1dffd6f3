import { LaminateError, typeError } from './errors.js';

/** True when `error` is one the system gave (node:fs's errors carry an errno `code` and the `syscall` that failed). */
export function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && !(error instanceof LaminateError) && typeof (error as NodeJS.ErrnoException).code === 'string' && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

/**
 * The LaminateError for an error the system gave a file() store on `dir`,
 * with a message that says what to do; anything else (a LaminateError, an
 * error of the caller's own code) as it is. The system's error is the cause.
 * `key` names the key the failing call was about, when there was one.
 */
export function systemError(error: unknown, dir: string, key?: string): unknown {
  if (!isSystemError(error)) return error;
  const failed = `${error.syscall} failed with ${error.code}`;
  const details = { cause: error, ...(key === undefined ? {} : { key }) };
  switch (error.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new LaminateError('ERR_DISK_FULL', `The disk holding ${dir} is full (no space, or no free inodes, left; ${failed}). Free space and retry.`, details);
    case 'EROFS':
      return new LaminateError('ERR_READ_ONLY', `${dir} is on a read-only filesystem (${failed}): nothing can be written there. A store that exists there opens read-only (file() again: get, keys and iter work); remount the filesystem read-write to change or make one.`, details);
    case 'EACCES':
    case 'EPERM':
      return new LaminateError('ERR_PERMISSION', `This process may not use ${error.path ?? dir} (${failed}). file() needs to read and write its directory, even to read (it takes a lock there): check the owner and mode of ${dir} and of what it holds, or run as a user who may.`, details);
    case 'ENAMETOOLONG':
      return typeError('ERR_INVALID_KEY', `${key === undefined ? 'A key' : `Key ${key}`} needs a file name or path longer than the filesystem under ${dir} allows (${failed}); nothing of the call was stored. Use fewer or shorter key parts.`, details);
    case 'EMFILE':
    case 'ENFILE':
      return new LaminateError('ERR_IO', `The process ran out of file descriptors (${failed}). Raise its limit (ulimit -n), or give file() a smaller maxOpenFiles.`, details);
    default:
      return new LaminateError('ERR_IO', `A file() call on ${dir} failed: ${error.message}. Check the disk and the directory (a file changed or removed by hand, a failing device), then retry.`, details);
  }
}
