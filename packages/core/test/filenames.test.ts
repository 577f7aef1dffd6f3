import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { file } from '@laminate/core';
import { decodePart, encodePart, isCanonical } from '../src/filenames.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

it('escapes every byte outside [A-Za-z0-9._-] and a leading dot, and decodes back', () => {
  expect(encodePart('plain-name_1.txt').name).toBe('plain-name_1.txt');
  expect(encodePart('a b/c').name).toBe('a%20b%2Fc');
  expect(encodePart('.hidden').name).toBe('%2Ehidden');
  expect(encodePart('').name).toBe('%e');
  expect(encodePart('é').name).toBe('%C3%A9');
  for (const part of ['a b/c', '.hidden', '', 'é', '100%', '%41']) expect(decodePart(encodePart(part).name)).toBe(part);
});

it('lists only names the map makes: files another tool named otherwise are not keys', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'laminate-names-'));
  dirs.push(dir);
  // partd keeps spaces and parentheses in its file names; no key of ours maps to these.
  writeFileSync(join(dir, 'x y'), 'stray');
  writeFileSync(join(dir, 'a(1)'), 'stray');
  writeFileSync(join(dir, 'plain'), 'kept');
  expect(isCanonical('x y')).toBe(false);
  expect(isCanonical('x%20y')).toBe(true);
  const store = file(dir);
  expect(await store.keys()).toEqual(['plain']);
  await store.append({ 'x y': Buffer.from('ours') });
  expect((await store.keys()).sort()).toEqual(['plain', 'x y']);
  expect(Buffer.from(await store.get('x y')).toString()).toBe('ours');
  expect(readdirSync(dir).filter((name) => !name.startsWith('.')).sort()).toEqual(['a(1)', 'plain', 'x y', 'x%20y']);
  await store.close();
});
