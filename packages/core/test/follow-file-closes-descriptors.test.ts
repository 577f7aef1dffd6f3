/**
 * A follower reads its key's file again at every wake, for as long as it
 * follows: each read must give its descriptor back, or a long follow runs the
 * process out of descriptors (EMFILE). Counted in /proc/self/fd (Linux).
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDirs } from '@laminate/core/testing';
import { KeyPaths, escapedLayout } from '../src/key-paths.js';
import { readFromPosition, trimPaths } from '../src/retention-file.js';

const tempDir = tempDirs('laminate-follow-file-fds-test-', afterAll);
const openDescriptors = () => fs.readdirSync('/proc/self/fd').length;

describe('file(): followed reads close their descriptors', () => {
  it('leaves no descriptor open after 600 reads, whether they find bytes or the end', async () => {
    const dir = tempDir();
    fs.writeFileSync(join(dir, 'k'), '0123456789');
    const data = new KeyPaths(dir, escapedLayout);
    const trims = trimPaths(dir);
    const before = openDescriptors();
    for (let i = 0; i < 300; i++) {
      expect(Buffer.from(await readFromPosition(data, trims, 'k', i % 10, 4)).toString()).toBe('0123456789'.slice(i % 10, (i % 10) + 4));
      expect((await readFromPosition(data, trims, 'k', 10, 4)).byteLength).toBe(0);
    }
    // Other work in the process may hold a few descriptors for a moment; a leak holds one per read.
    expect(openDescriptors() - before).toBeLessThan(100);
  });
});
