/**
 * Whether process `pid` on this machine still runs: a signal 0 reaches it, or
 * is refused because it belongs to another user (EPERM). Only ESRCH says it is
 * gone, so an error the system gives for any other reason never lets a caller
 * take over a live process's lock or files.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
