// Keys → ids (src/keys.ts): which keys are the same key, which are refused and how a key is shown.
// Every layer indexes by these ids, so two keys that shared one would share their values.
import { describe, expect, it } from 'vitest';
import { type Key } from '@laminate/core';
import { thrown } from '@laminate/core/testing';
import { keyFromId, keyFromParts, keyId, keyParts, showKey } from '../src/keys.js';

describe('keyId: one id per distinct key', () => {
  it('keeps a plain string as its own id, and makes a one-part tuple and numbers the same key as their text', () => {
    expect(keyId('a')).toBe('a');
    expect(keyId('')).toBe('');
    expect(keyId(['a'])).toBe('a');
    expect(keyId([7])).toBe('7');
    expect(keyId([1, 'x'])).toBe(keyId(['1', 'x']));
    expect(keyId([1.5, -0, 'x'])).toBe(keyId(['1.5', '0', 'x']));
    expect(keyId(['a', 'b'])).not.toBe(keyId('a,b'));
    expect(keyId(['a', 'b'])).not.toBe(keyId(['a', 'b', '']));
  });

  it('gives a string starting with NUL an id no other key has, and reads every id back to its key', () => {
    const keys: Key[] = ['a', '', '\0', '\0x', '\0["a","b"]', ['a', 'b'], ['\0', 'b'], ['', ''], ['a', 'b', 'c']];
    const ids = keys.map(keyId);
    expect(new Set(ids).size).toBe(keys.length);
    expect(keyId('\0x')).not.toBe('\0x');
    keys.forEach((key, i) => {
      expect(keyFromId(ids[i])).toEqual(key);
      expect(keyParts(ids[i])).toEqual(typeof key === 'string' ? [key] : key);
      expect(keyFromParts(keyParts(ids[i]))).toBe(ids[i]);
    });
    expect(keyFromParts(['a'])).toBe('a');
    expect(keyFromParts(['\0'])).toBe(keyId('\0'));
  });

  it.each([
    ['a lone surrogate', '\uD800', /^Invalid key ".*": it holds a lone UTF-16 surrogate/],
    ['a lone surrogate in a part', ['a', '\uDC00'], /^Invalid key \["a",".*"\]: a part holds a lone UTF-16 surrogate/],
    ['an empty tuple', [], /^Invalid key \[\]: a tuple key needs at least one part\.$/],
    ['an object', { a: 1 }, /^Invalid key \{"a":1\}: a key is a string or an array of strings and numbers\.$/],
    ['a number', 5, /^Invalid key 5: a key is a string or an array/],
    ['undefined', undefined, /^Invalid key undefined: a key is a string or an array/],
    ['a bigint, which JSON cannot show', 10n, /^Invalid key 10: a key is a string or an array/],
    ['NaN in a tuple', ['a', NaN], /^Invalid key \["a",null\]: each part of a tuple key must be a string or a finite number\.$/],
    ['Infinity in a tuple', ['a', Infinity], /each part of a tuple key must be a string or a finite number/],
    ['null in a tuple', ['a', null], /each part of a tuple key must be a string or a finite number/],
    ['an array in a tuple', ['a', ['b']], /each part of a tuple key must be a string or a finite number/],
  ])('refuses %s with ERR_INVALID_KEY, a TypeError that shows the key', (_, key, message) => {
    const error = thrown(() => keyId(key as Key));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe('ERR_INVALID_KEY');
    expect(error.message).toMatch(message);
  });
});

describe('showKey: a key as error messages show it', () => {
  it('shows keys and ids as JSON, a tuple id as its parts, and what JSON cannot show as text', () => {
    expect(showKey('a')).toBe('"a"');
    expect(showKey('')).toBe('""');
    expect(showKey(keyId(['a', 'b']))).toBe('["a","b"]');
    expect(showKey(keyId('\0x'))).toBe('["\\u0000x"]');
    expect(showKey(['a', 1])).toBe('["a",1]');
    expect(showKey([1n, 2n] as unknown as Key)).toBe('1,2');
  });
});
