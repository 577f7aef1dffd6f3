// The exact names of the key → file-name map (src/filenames.ts) at its edges. The names are an
// on-disk format other processes and Python partd read, so they are pinned, not only checked to
// round-trip: each character just inside and just outside [A-Za-z0-9._-], a leading dot in a name
// that is escaped anyway, and the 200-character limit on either side, plain and escaped.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { file } from '@laminate/core';
import { tempDirs } from '@laminate/core/testing';
import { MAX_NAME, decodePart, encodePart, folderName, isCanonical, isHashed, isSidecar, sidecarName, unfolder } from '../src/filenames.js';

const tempDir = tempDirs('laminate-name-table-');
const hashOf = (part: string) => encodePart(part).name.slice(2);

describe('the escaped names, byte by byte', () => {
  it('keeps the ends of each plain range and escapes the byte beside each, in a name escaped anyway', () => {
    // A space makes every one of these go through the byte-by-byte path.
    const table: [string, string][] = [
      [' 09AZaz_-', '%2009AZaz_-'],
      [' /', '%20%2F'],
      [' :', '%20%3A'],
      [' @', '%20%40'],
      [' [', '%20%5B'],
      [' `', '%20%60'],
      [' {', '%20%7B'],
      [' ^', '%20%5E'],
      [' ,', '%20%2C'],
      [' .', '%20.'],
      ['. ', '%2E%20'],
      ['.a b', '%2Ea%20b'],
      ['a b.', 'a%20b.'],
      ['\0\x0f\x10', '%00%0F%10'],
      ['é 🦊', '%C3%A9%20%F0%9F%A6%8A'],
    ];
    for (const [part, name] of table) {
      expect(encodePart(part), JSON.stringify(part)).toEqual({ name });
      expect(decodePart(name)).toBe(part);
      expect(isCanonical(name)).toBe(true);
    }
  });

  it('takes a name for plain only when every character is plain and the first is not a dot', () => {
    const table: [string, string][] = [
      [' a', '%20a'],
      ['a ', 'a%20'],
      ['a b', 'a%20b'],
      ['.a', '%2Ea'],
      ['..', '%2E.'],
      ['a.', 'a.'],
      ['-a', '-a'],
      ['_', '_'],
      ['a\nb', 'a%0Ab'],
    ];
    for (const [part, name] of table) expect(encodePart(part), JSON.stringify(part)).toEqual({ name });
  });

  it('decodes only %XX with upper-case hex as a byte, and leaves other % sequences as they are', () => {
    expect(decodePart('%41%4a')).toBe('A%4a');
    expect(decodePart('a%2')).toBe('a%2');
    expect(decodePart('%%41')).toBe('%A');
    expect(decodePart('%e')).toBe('');
    expect(decodePart('plain')).toBe('plain');
  });
});

describe('the 200-character limit', () => {
  it('keeps a plain name of exactly MAX_NAME characters, and hashes one character more', () => {
    expect(MAX_NAME).toBe(200);
    const at = 'a'.repeat(MAX_NAME);
    expect(encodePart(at)).toEqual({ name: at });
    const over = 'a'.repeat(MAX_NAME + 1);
    expect(encodePart(over)).toEqual({ name: `%h${hashOf(over)}`, sidecar: over });
    expect(hashOf(over)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps an escaped name of exactly MAX_NAME characters, and hashes one that would be longer', () => {
    const at = `${'a'.repeat(MAX_NAME - 3)} `;
    expect(encodePart(at)).toEqual({ name: `${'a'.repeat(MAX_NAME - 3)}%20` });
    const over = `${'a'.repeat(MAX_NAME - 2)} `;
    expect(encodePart(over)).toEqual({ name: `%h${hashOf(over)}`, sidecar: over });
  });

  it('hashes the UTF-8 bytes of the part', () => {
    // The digest of the bytes C3 A9 ('é' in UTF-8) 200 times, built from hex, not from the text.
    const part = 'é'.repeat(200);
    expect(encodePart(part).name).toBe(`%h${createHash('sha256').update(Buffer.from('c3a9'.repeat(200), 'hex')).digest('hex')}`);
  });
});

describe('folders, sidecars and the names the store keeps', () => {
  it("marks a tuple folder with %d, so 'a', 'a%d' (a key of its own) and ['a', …]'s folder are three names", () => {
    expect(folderName('a')).toBe('a%d');
    expect(unfolder('a%d')).toBe('a');
    expect(unfolder('a')).toBeUndefined();
    expect(unfolder('a.d')).toBeUndefined();
    expect(unfolder('%d')).toBe('');
    expect(encodePart('a%d').name).toBe('a%25d');
    expect(new Set([encodePart('a').name, encodePart('a%d').name, folderName(encodePart('a').name)]).size).toBe(3);
  });

  it('names a sidecar ".%h" + 64 hex digits, and nothing else a sidecar', () => {
    const name = encodePart('x'.repeat(300)).name;
    expect(isHashed(name)).toBe(true);
    expect(isHashed('h%h')).toBe(false);
    expect(sidecarName(name)).toBe(`.${name}`);
    expect(isSidecar(sidecarName(name))).toBe(true);
    for (const other of [name, `x.${name}`, `.${name}x`, `.${name.slice(0, -1)}`, `.%h${'G'.repeat(64)}`, `.%h${'A'.repeat(64)}`, '.laminate.lock']) {
      expect(isSidecar(other), other).toBe(false);
    }
  });

  it('takes no key from a name starting with a dot, not even a folder ending in the folder mark', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, '.x%d'));
    writeFileSync(join(dir, '.x%d', 'k'), 'not a key');
    writeFileSync(join(dir, '.y'), 'not a key');
    const store = file(dir);
    await store.append({ z: Buffer.from('a key') });
    expect(await store.keys()).toEqual(['z']);
    await store.close();
  });
});
