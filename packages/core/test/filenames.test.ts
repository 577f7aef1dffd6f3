import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { type Key, type Store, file } from '@laminate/core';
import { tempDirs } from '@laminate/core/testing';
import { MAX_NAME, decodePart, encodePart, isCanonical } from '../src/filenames.js';

const tempDir = tempDirs('laminate-names-');

it('escapes every byte outside [A-Za-z0-9._-] and a leading dot, and decodes back', () => {
  expect(encodePart('plain-name_1.txt').name).toBe('plain-name_1.txt');
  expect(encodePart('a b/c').name).toBe('a%20b%2Fc');
  expect(encodePart('.hidden').name).toBe('%2Ehidden');
  expect(encodePart('').name).toBe('%e');
  expect(encodePart('é').name).toBe('%C3%A9');
  for (const part of ['a b/c', '.hidden', '', 'é', '100%', '%41']) expect(decodePart(encodePart(part).name)).toBe(part);
});

it('lists only names the map makes: files another tool named otherwise are not keys', async () => {
  const dir = tempDir();
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

// Keys that look like what the map writes for another key: a tuple folder's mark (`%d`), the
// empty part (`%e`), a hashed name (`%h…`), an escape (`%2E`), and the same text with a dot where
// the mark's `%` is. Each must live in its own file, beside the others, in any order of writing.
const LOOK_ALIKES: Key[] = [
  'a', ['a', 'b'], 'a.d', 'a%d', ['a.d', 'b'], ['a%d', 'b'], 'a%d%2Fb', 'a.d/b', ['a', 'b', 'c'], ['a', 'b.d'], 'a.db',
  '', ['', 'b'], '%e', '.e', ['%e', 'b'], '.d', '%d', ['%d', 'b'],
  '%h' + '0'.repeat(64), '.h' + '0'.repeat(64), 'h'.repeat(MAX_NAME + 1), '%2Ea', '.a', 'a.', ['a.', 'b'],
];

async function expectApart(store: Store<Uint8Array>, keys: readonly Key[], write: 'append' | 'iset'): Promise<void> {
  // Written in both orders across the two passes, so neither a file nor a folder is always there first.
  for (const order of [keys, [...keys].reverse()]) {
    for (const key of order) {
      const value = Buffer.from(`${JSON.stringify(key)};`);
      if (write === 'append') await store.append([[key, value]]);
      else await store.iset(key, value);
    }
  }
  for (const key of keys) {
    const expected = write === 'append' ? `${JSON.stringify(key)};`.repeat(2) : `${JSON.stringify(key)};`;
    const got = write === 'append' ? await store.get(key) : await store.iget(key);
    expect(Buffer.from(got).toString(), JSON.stringify(key)).toBe(expected);
  }
}

it('keeps keys that look like the folder mark, the empty-part mark, a hashed name or an escape apart from the keys they resemble', async () => {
  const dir = tempDir();
  const store = file(dir);
  await expectApart(store, LOOK_ALIKES, 'append');
  // Every key is listed once, under its own name.
  const listed = (await store.keys()).map((key) => JSON.stringify(key)).sort();
  expect(listed).toEqual(LOOK_ALIKES.map((key) => JSON.stringify(key)).sort());
  // Deleting one leaves the one it resembles.
  await store.delete(['a.d', ['a', 'b']]);
  expect(Buffer.from(await store.get(['a.d', 'b'])).toString()).toBe('["a.d","b"];["a.d","b"];');
  expect(Buffer.from(await store.get(['a', 'b', 'c'])).toString()).toBe('["a","b","c"];["a","b","c"];');
  expect((await store.get('a.d')).byteLength).toBe(0);
  await store.close();
});

it("keeps the same look-alikes apart as iset keys, whose names are escaped in both layouts (the partd layout's .iset folder too)", async () => {
  for (const layout of ['escaped', 'partd'] as const) {
    const store = file(tempDir(), { layout });
    await expectApart(store, LOOK_ALIKES, 'iset');
    await store.close();
  }
});

it("keeps look-alikes apart in the partd layout, whose tuple folders are the parts' bare names", async () => {
  const store = file(tempDir(), { layout: 'partd' });
  // 'a' and ['a', 'b'] cannot coexist there (partd's rule); these can, and must not meet.
  await expectApart(store, ['a.d', ['a', 'b'], ['a', 'd'], 'a.db', ['x', 'a.d'], ['x', 'a', 'd'], ['y.d', 'b'], ['y', 'd']], 'append');
  await store.close();
});
