import { describe, expect, it } from 'vitest';
import { dict } from '@laminate/core';
import { rejection, thrown } from '@laminate/core/testing';
import { compile, matchingRows, parseExpression, parseUpdate } from '../src/expression.js';
import { EXPRESSION_LIMITS, parseDuration, parseRate, parseTime, tables } from '../src/index.js';
import { rows } from './helpers.js';

/** Evaluates a filter on one row given as an object. */
function test(text: string, row: Record<string, unknown>): unknown {
  const readers = new Map(Object.entries(row).map(([k, v]) => [k, () => v]));
  return compile(parseExpression(text).node, readers)(0);
}

describe('expressions', () => {
  it('compares numbers, strings and booleans, and combines with and/or/not and in', () => {
    const row = { age: 15, city: 'NY', ok: true, none: null };
    const cases: [string, unknown][] = [
      ['age > 14', true],
      ['age >= 15 and age <= 15', true],
      ['age == 15.0', true],
      ['age = 15', true],
      ['age != 15', false],
      ['age <> 14', true],
      ['city == "NY"', true],
      ["city == 'NY'", true],
      ['city < "Oslo"', true],
      ['ok == true', true],
      ['ok', true],
      ['not ok', false],
      ['!(age > 20)', true],
      ['age > 20 or city == "NY"', true],
      ['age > 20 || city == "NY" && ok', true],
      ['(age > 20 or city == "NY") and not ok', false],
      ['city in ("LA", "NY")', true],
      ['age not in (1, 2, 15)', false],
      ['age in (14, 16)', false],
      ['AGE > 1', false],
      ['age + 1 == 16 and age * 2 == 30 and age % 4 == 3 and -age == -15 and age / 3 == 5', true],
      ['none == null', true],
      ['none > 1', false],
      ['none in (1)', false],
      ['age == "15"', false],
      ['age != "15"', true],
      ['city > 1', false],
      ['1e1 == 10 and .5 == 0.5', true],
      ['`city` == "NY"', true],
    ];
    for (const [text, expected] of cases) expect(test(text, row), text).toBe(expected);
    expect(test('x == "a\\"b" and y == \'it\\\'s\'', { x: 'a"b', y: "it's" })).toBe(true);
  });

  it('names the columns an expression reads, with where each first appears', () => {
    expect([...parseExpression('a > 1 and b == a or `c d` in (1)').columns]).toEqual([
      ['a', 0],
      ['b', 10],
      ['c d', 20],
    ]);
  });

  it('refuses malformed input with ERR_INVALID_OPTION at the offending character', () => {
    const cases: [string, number][] = [
      ['', 0],
      ['age >', 5],
      ['age > > 1', 6],
      ['(age > 1', 8],
      ['age > 1)', 7],
      ['age $ 1', 4],
      ['city == "NY', 8],
      ['age in 1, 2', 7],
      ['age in (1, x)', 11],
      ['age not 1', 4],
      ['1abc == 2', 1],
      ['a == "\\q"', 6],
      ['and', 0],
    ];
    for (const [text, at] of cases) {
      const error = thrown(() => parseExpression(text));
      expect(error.code, text).toBe('ERR_INVALID_OPTION');
      expect(error.offset, text).toBe(at);
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toContain(`character ${at + 1}`);
      expect(error.message).toContain('^');
    }
  });

  it('bounds nesting, literal sizes, list lengths and text length', () => {
    const deep = `${'('.repeat(10_000)}a${')'.repeat(10_000)}`;
    const error = thrown(() => parseExpression(deep));
    expect(error.code).toBe('ERR_INVALID_OPTION');
    expect(error.offset).toBe(EXPRESSION_LIMITS.depth);
    expect(thrown(() => parseExpression(`${'not '.repeat(1000)}a`)).code).toBe('ERR_INVALID_OPTION');
    expect(thrown(() => parseExpression(`${'-'.repeat(1000)}a > 1`)).code).toBe('ERR_INVALID_OPTION');
    // Within the limit, it parses.
    expect(test(`${'('.repeat(60)}a == 1${')'.repeat(60)}`, { a: 1 })).toBe(true);
    const huge = thrown(() => parseExpression(`a == "${'x'.repeat(EXPRESSION_LIMITS.literal + 1)}"`));
    expect(huge.code).toBe('ERR_INVALID_OPTION');
    expect(huge.offset).toBe(5);
    expect(thrown(() => parseExpression(`a == ${'9'.repeat(EXPRESSION_LIMITS.literal + 1)}`)).offset).toBe(5);
    expect(thrown(() => parseExpression(`a == ${'9'.repeat(400)}`)).message).toContain('too large');
    expect(thrown(() => parseExpression(`a in (${Array.from({ length: EXPRESSION_LIMITS.list + 1 }, (_, i) => i).join(',')})`)).code).toBe('ERR_INVALID_OPTION');
    expect(thrown(() => parseExpression('a == 1 or '.repeat(10_000))).code).toBe('ERR_INVALID_OPTION');
    expect(thrown(() => parseExpression(42 as unknown as string)).code).toBe('ERR_INVALID_OPTION');
  });

  it('treats injection-looking strings as data, never as code', async () => {
    const t = tables(dict());
    const hostile = [
      { id: 'a', note: "'); process.exit(1); //" },
      { id: 'b', note: '${process.exit(1)}' },
      { id: 'c', note: 'x" or 1 == 1 or "' },
    ];
    await t.write('kv', 'notes', hostile, { index: 'id' });
    expect(rows(await t.read('kv', 'notes', { filter: 'note == "x\\" or 1 == 1 or \\""' }))).toEqual([hostile[2]]);
    expect(rows(await t.read('kv', 'notes', { filter: 'note == "${process.exit(1)}"' }))).toEqual([hostile[1]]);
    expect((await t.read('kv', 'notes', { filter: 'note == "\'); process.exit(1); //" and id == "z"' })).numRows).toBe(0);
    for (const filter of ['process.exit(1)', 'constructor.constructor("return process")()', 'note; drop', '__proto__ == 1 or x.y[0]', 'note == `a` + require("fs")']) {
      const error = await rejection(t.read('kv', 'notes', { filter }));
      expect(['ERR_INVALID_OPTION', 'ERR_SCHEMA'], filter).toContain(error.code);
      expect(typeof error.offset, filter).toBe('number');
    }
    // Column names such as __proto__ or constructor are only ever column names.
    expect(test('constructor == 1', { constructor: 1 })).toBe(true);
    expect(test('__proto__ == null', {})).toBe(true);
  });

  it('parses update expressions into assignments', () => {
    const update = parseUpdate('a = a + 1; b = "x";');
    expect(update.assignments.map((a) => [a.column, a.at])).toEqual([
      ['a', 0],
      ['b', 11],
    ]);
    expect(thrown(() => parseUpdate('a + 1')).offset).toBe(2);
    expect(thrown(() => parseUpdate('a = 1 b = 2')).offset).toBe(6);
    expect(thrown(() => parseUpdate('and = 1')).offset).toBe(0);
    expect(thrown(() => parseUpdate(' ; ')).code).toBe('ERR_INVALID_OPTION');
  });

  it('matchingRows keeps the rows whose value is exactly true', () => {
    const values = [1, 5, null, 7];
    const node = parseExpression('v > 2').node;
    expect([...matchingRows(compile(node, new Map([['v', (i: number) => values[i]]])), values.length)]).toEqual([1, 3]);
  });
});

describe('times', () => {
  const now = Date.UTC(2026, 0, 31, 12);
  it('reads epoch ms, ISO strings, Dates and now±duration', () => {
    expect(parseTime(1000, 'start', now)).toBe(1000);
    expect(parseTime('1000', 'start', now)).toBe(1000);
    expect(parseTime(new Date(5), 'start', now)).toBe(5);
    expect(parseTime('2026-01-31T12:00:00Z', 'start', now)).toBe(now);
    expect(parseTime('2026-01-31', 'start', now)).toBe(Date.UTC(2026, 0, 31));
    expect(parseTime('now', 'start', now)).toBe(now);
    expect(parseTime('now-1d', 'start', now)).toBe(now - 86_400_000);
    expect(parseTime('now - 90m', 'start', now)).toBe(now - 5_400_000);
    expect(parseTime('now+2h', 'start', now)).toBe(now + 7_200_000);
    expect(parseTime('now-500ms', 'start', now)).toBe(now - 500);
    expect(parseTime('now-1w', 'start', now)).toBe(now - 604_800_000);
    for (const bad of ['yesterday', 'now-1y', '2026-13-45', '', NaN, null, {}, 'now-', '31/01/2026']) {
      const error = thrown(() => parseTime(bad, 'start', now));
      expect(error.code, String(bad)).toBe('ERR_INVALID_OPTION');
      expect(error.message).toContain('start');
    }
  });

  it('reads durations and rates', () => {
    expect(parseDuration('1h', 'step')).toBe(3_600_000);
    expect(parseDuration('30s', 'step')).toBe(30_000);
    expect(parseDuration(250, 'step')).toBe(250);
    expect(parseDuration('1.5m', 'step')).toBe(90_000);
    for (const bad of ['0s', '-1h', 'h', 0, 'fast']) expect(thrown(() => parseDuration(bad, 'step')).code).toBe('ERR_INVALID_OPTION');
    expect(parseRate('1/s')).toBe(1 / 1000);
    expect(parseRate('12/m')).toBe(12 / 60_000);
    for (const bad of ['1', 's', '0/s', '1/y', 3]) expect(thrown(() => parseRate(bad)).code).toBe('ERR_INVALID_OPTION');
  });
});
