import * as fs from 'node:fs';
import { dirname } from 'node:path';

/** fsyncs the file or folder at `path`. */
export function fsyncPath(path: string): void {
  const fd = fs.openSync(path, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * fsyncs the folders holding `paths`, and theirs, up to `root`: a new file's
 * name is in its folder, which fsync of the file does not save.
 */
export function fsyncFolders(root: string, paths: readonly string[]): void {
  if (process.platform === 'win32') return; // Windows cannot open a folder to fsync it.
  const folders = new Set<string>();
  for (const path of paths) {
    for (let dir = dirname(path); dir.startsWith(root); dir = dirname(dir)) {
      folders.add(dir);
      if (dir === root) break;
    }
  }
  for (const dir of folders) fsyncPath(dir);
}
