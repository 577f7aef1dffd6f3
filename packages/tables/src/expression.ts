/**
 * The filter, condition and update language of tables: a hand-written
 * tokenizer and a recursive-descent parser that build a small tree, and an
 * evaluator that walks it. Nothing is ever handed to eval or Function, so an
 * expression can only compare and combine column values and literals.
 *
 *   filter     := or
 *   or         := and (('or' | '||') and)*
 *   and        := not (('and' | '&&') not)*
 *   not        := ('not' | '!') not | comparison
 *   comparison := sum (('==' | '=' | '!=' | '<>' | '<' | '<=' | '>' | '>=') sum
 *                     | 'not'? 'in' '(' literal (',' literal)* ')')?
 *   sum        := product (('+' | '-') product)*
 *   product    := unary (('*' | '/' | '%') unary)*
 *   unary      := '-' unary | atom
 *   atom       := number | 'string' | "string" | true | false | null
 *               | column | `any column name` | '(' or ')'
 *   update     := column '=' or (';' column '=' or)* ';'?
 *
 * Limits keep hostile input cheap: the text, each literal, the nesting depth
 * and each `in` list are bounded, and every refusal is a LaminateError whose
 * `offset` is the index of the offending character, shown under the text.
 */
import { LaminateError, typeError } from '@laminate/core/layer';

export const LIMITS = {
  /** Characters in one expression. */
  text: 65_536,
  /** Characters in one string literal, digits in one number. */
  literal: 4_096,
  /** Nested parentheses, nots and unary minuses. */
  depth: 64,
  /** Values in one `in (…)` list. */
  list: 10_000,
};

export type Literal = number | string | boolean | null;

export type Node =
  | { kind: 'literal'; value: Literal; at: number }
  | { kind: 'column'; name: string; at: number }
  | { kind: 'not'; operand: Node; at: number }
  | { kind: 'negate'; operand: Node; at: number }
  | { kind: 'and' | 'or'; left: Node; right: Node; at: number }
  | { kind: 'compare'; op: CompareOp; left: Node; right: Node; at: number }
  | { kind: 'arith'; op: '+' | '-' | '*' | '/' | '%'; left: Node; right: Node; at: number }
  | { kind: 'in'; operand: Node; values: Literal[]; negated: boolean; at: number };

type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

/** A parsed expression: its tree, its text and the columns it reads (with where each is first named). */
export interface Expression {
  text: string;
  node: Node;
  columns: Map<string, number>;
}

export interface Assignment {
  column: string;
  at: number;
  value: Node;
}

export interface Update {
  text: string;
  assignments: Assignment[];
  columns: Map<string, number>;
}

type TokenKind = 'number' | 'string' | 'word' | 'quoted-name' | 'op' | 'end';
interface Token {
  kind: TokenKind;
  text: string;
  value?: Literal;
  at: number;
}

const OPERATORS = ['==', '!=', '<>', '<=', '>=', '&&', '||', '=', '<', '>', '!', '(', ')', ',', '+', '-', '*', '/', '%', ';'];

/** A coded error pointing at character `at` of `text`. */
export function expressionError(code: 'ERR_INVALID_OPTION' | 'ERR_SCHEMA', what: string, text: string, at: number, problem: string, fix: string): LaminateError {
  const start = Math.max(0, at - 30);
  const shown = text.slice(start, at + 30).replace(/[\r\n\t]/g, ' ');
  const caret = `${' '.repeat(at - start + (start > 0 ? 1 : 0))}^`;
  const message = `${what}: ${problem} at character ${at + 1}. ${fix}\n  ${start > 0 ? '…' : ''}${shown}${at + 30 < text.length ? '…' : ''}\n  ${caret}`;
  return code === 'ERR_SCHEMA' ? new LaminateError(code, message, { offset: at }) : typeError(code, message, { offset: at });
}

function tokenize(text: string, what: string): Token[] {
  const tokens: Token[] = [];
  const fail = (at: number, problem: string, fix: string) => expressionError('ERR_INVALID_OPTION', what, text, at, problem, fix);
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const at = i;
    if ((c >= '0' && c <= '9') || (c === '.' && text[i + 1] >= '0' && text[i + 1] <= '9')) {
      const match = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + LIMITS.literal + 2))!;
      if (match[0].length > LIMITS.literal) throw fail(at, `a number longer than ${LIMITS.literal} characters`, 'Write a shorter number.');
      const value = Number(match[0]);
      if (!Number.isFinite(value)) throw fail(at, `the number ${match[0].slice(0, 40)} is too large`, 'Numbers must fit a 64-bit float.');
      i += match[0].length;
      if (/[A-Za-z_]/.test(text[i] ?? '')) throw fail(i, `a letter right after the number ${match[0]}`, 'Put a space or an operator between a number and a name.');
      tokens.push({ kind: 'number', text: match[0], value, at });
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw fail(at, `a ${c === '`' ? 'column name' : 'string'} that is never closed`, `End it with ${c}.`);
        const d = text[i];
        if (d === c) {
          i++;
          break;
        }
        if (d === '\\') {
          const next = text[i + 1];
          const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", '`': '`' };
          if (next === undefined || !(next in escapes)) throw fail(i, 'an unknown escape', 'Escapes are \\n \\t \\r \\\\ \\" \\\' and \\`.');
          value += escapes[next];
          i += 2;
        } else {
          value += d;
          i++;
        }
        if (value.length > LIMITS.literal) throw fail(at, `a ${c === '`' ? 'column name' : 'string'} longer than ${LIMITS.literal} characters`, 'Use a shorter literal.');
      }
      tokens.push(c === '`' ? { kind: 'quoted-name', text: value, at } : { kind: 'string', text: value, value, at });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i, i + LIMITS.literal + 1))!;
      if (match[0].length > LIMITS.literal) throw fail(at, `a name longer than ${LIMITS.literal} characters`, 'Use a shorter name.');
      tokens.push({ kind: 'word', text: match[0], at });
      i += match[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (op === undefined) {
      throw fail(at, `the character ${JSON.stringify(c)} is not part of the language`, 'Expressions use names, numbers, quoted strings, comparisons (== != < <= > >=), and/or/not, in (…) and + - * / %.');
    }
    tokens.push({ kind: 'op', text: op, at });
    i += op.length;
  }
  tokens.push({ kind: 'end', text: '', at: text.length });
  return tokens;
}

class Parser {
  private pos = 0;
  private depth = 0;
  readonly columns = new Map<string, number>();
  private readonly tokens: Token[];

  constructor(
    private readonly text: string,
    private readonly what: string,
  ) {
    if (typeof text !== 'string') throw typeError('ERR_INVALID_OPTION', `${what} must be a string; got ${text === null ? 'null' : typeof text}.`);
    if (text.length > LIMITS.text) throw expressionError('ERR_INVALID_OPTION', what, text.slice(0, 80), 0, `an expression of ${text.length} characters (at most ${LIMITS.text})`, 'Write a shorter expression.');
    this.tokens = tokenize(text, what);
  }

  private fail(token: Token, problem: string, fix: string): LaminateError {
    return expressionError('ERR_INVALID_OPTION', this.what, this.text, token.at, problem, fix);
  }

  private peek(): Token {
    return this.tokens[this.pos];
  }

  private next(): Token {
    return this.tokens[this.pos++];
  }

  private isWord(token: Token, word: string): boolean {
    return token.kind === 'word' && token.text.toLowerCase() === word;
  }

  private isOp(token: Token, ...ops: string[]): boolean {
    return token.kind === 'op' && ops.includes(token.text);
  }

  private expectEnd(): void {
    const token = this.peek();
    if (token.kind !== 'end') throw this.fail(token, `unexpected ${describe(token)}`, 'Join conditions with and/or; the expression ends here otherwise.');
  }

  private enter(token: Token): void {
    if (++this.depth > LIMITS.depth) throw this.fail(token, `nesting deeper than ${LIMITS.depth} levels`, 'Write a flatter expression.');
  }

  parseFilter(): Node {
    if (this.peek().kind === 'end') throw this.fail(this.peek(), 'an empty expression', 'Write a condition such as age > 14.');
    const node = this.or();
    this.expectEnd();
    return node;
  }

  parseUpdate(): Assignment[] {
    const out: Assignment[] = [];
    while (this.peek().kind !== 'end') {
      const target = this.next();
      if (target.kind !== 'word' && target.kind !== 'quoted-name') throw this.fail(target, `expected a column name, found ${describe(target)}`, 'Write assignments such as count = count + 1; city = "NY".');
      if (target.kind === 'word' && KEYWORDS.has(target.text.toLowerCase())) throw this.fail(target, `"${target.text}" is a keyword, not a column`, 'Quote the column name in backticks: `name`.');
      const eq = this.next();
      if (!this.isOp(eq, '=')) throw this.fail(eq, `expected = after the column name, found ${describe(eq)}`, 'Write assignments such as count = count + 1.');
      out.push({ column: target.text, at: target.at, value: this.or() });
      if (this.isOp(this.peek(), ';')) this.next();
      else this.expectEnd();
    }
    if (out.length === 0) throw this.fail(this.peek(), 'an empty update expression', 'Write assignments such as count = count + 1; city = "NY".');
    return out;
  }

  private or(): Node {
    let left = this.and();
    while (this.isWord(this.peek(), 'or') || this.isOp(this.peek(), '||')) {
      const at = this.next().at;
      left = { kind: 'or', left, right: this.and(), at };
    }
    return left;
  }

  private and(): Node {
    let left = this.not();
    while (this.isWord(this.peek(), 'and') || this.isOp(this.peek(), '&&')) {
      const at = this.next().at;
      left = { kind: 'and', left, right: this.not(), at };
    }
    return left;
  }

  private not(): Node {
    const token = this.peek();
    if (this.isWord(token, 'not') || this.isOp(token, '!')) {
      this.next();
      this.enter(token);
      const operand = this.not();
      this.depth--;
      return { kind: 'not', operand, at: token.at };
    }
    return this.comparison();
  }

  private comparison(): Node {
    const left = this.sum();
    const token = this.peek();
    if (this.isOp(token, '==', '=', '!=', '<>', '<', '<=', '>', '>=')) {
      this.next();
      const op: CompareOp = token.text === '=' ? '==' : token.text === '<>' ? '!=' : (token.text as CompareOp);
      return { kind: 'compare', op, left, right: this.sum(), at: token.at };
    }
    let negated = false;
    if (this.isWord(token, 'not') && this.isWord(this.tokens[this.pos + 1], 'in')) {
      this.next();
      negated = true;
    }
    if (this.isWord(this.peek(), 'in')) {
      const at = this.next().at;
      const open = this.next();
      if (!this.isOp(open, '(')) throw this.fail(open, `expected ( after in, found ${describe(open)}`, 'Write in (1, 2, 3).');
      const values: Literal[] = [];
      for (;;) {
        const item = this.next();
        const literal = literalOf(item);
        if (literal === undefined) throw this.fail(item, `expected a number, string, true, false or null in the in (…) list, found ${describe(item)}`, 'List literal values only.');
        values.push(literal.value);
        if (values.length > LIMITS.list) throw this.fail(item, `more than ${LIMITS.list} values in one in (…) list`, 'Split the list.');
        const sep = this.next();
        if (this.isOp(sep, ')')) break;
        if (!this.isOp(sep, ',')) throw this.fail(sep, `expected , or ) in the in (…) list, found ${describe(sep)}`, 'Separate values with commas and close the list with ).');
      }
      return { kind: 'in', operand: left, values, negated, at };
    }
    if (negated) throw this.fail(token, 'expected in after not', 'Write x not in (1, 2).');
    return left;
  }

  private sum(): Node {
    let left = this.product();
    while (this.isOp(this.peek(), '+', '-')) {
      const token = this.next();
      left = { kind: 'arith', op: token.text as '+' | '-', left, right: this.product(), at: token.at };
    }
    return left;
  }

  private product(): Node {
    let left = this.unary();
    while (this.isOp(this.peek(), '*', '/', '%')) {
      const token = this.next();
      left = { kind: 'arith', op: token.text as '*' | '/' | '%', left, right: this.unary(), at: token.at };
    }
    return left;
  }

  private unary(): Node {
    const token = this.peek();
    if (this.isOp(token, '-')) {
      this.next();
      this.enter(token);
      const operand = this.unary();
      this.depth--;
      return { kind: 'negate', operand, at: token.at };
    }
    return this.atom();
  }

  private atom(): Node {
    const token = this.next();
    const literal = literalOf(token);
    if (literal !== undefined) return { kind: 'literal', value: literal.value, at: token.at };
    if (this.isOp(token, '(')) {
      this.enter(token);
      const inner = this.or();
      this.depth--;
      const close = this.next();
      if (!this.isOp(close, ')')) throw this.fail(close, `expected ) to close the ( at character ${token.at + 1}, found ${describe(close)}`, 'Close every parenthesis.');
      return inner;
    }
    if (token.kind === 'quoted-name' || (token.kind === 'word' && !KEYWORDS.has(token.text.toLowerCase()))) {
      if (!this.columns.has(token.text)) this.columns.set(token.text, token.at);
      return { kind: 'column', name: token.text, at: token.at };
    }
    throw this.fail(token, `expected a value, found ${describe(token)}`, 'A value is a column name, a number, a quoted string, true, false, null or a parenthesised expression.');
  }
}

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'true', 'false', 'null']);

function literalOf(token: Token): { value: Literal } | undefined {
  if (token.kind === 'number' || token.kind === 'string') return { value: token.value! };
  if (token.kind === 'word') {
    const word = token.text.toLowerCase();
    if (word === 'true') return { value: true };
    if (word === 'false') return { value: false };
    if (word === 'null') return { value: null };
  }
  return undefined;
}

function describe(token: Token): string {
  if (token.kind === 'end') return 'the end of the expression';
  if (token.kind === 'string') return `the string ${JSON.stringify(token.text.slice(0, 40))}`;
  if (token.kind === 'quoted-name') return `the column \`${token.text.slice(0, 40)}\``;
  return `"${token.text.slice(0, 40)}"`;
}

/** Parses a filter or condition; `what` names it in errors (such as 'read(kv, "t") filter'). */
export function parseExpression(text: string, what = 'filter'): Expression {
  const parser = new Parser(text, what);
  const node = parser.parseFilter();
  return { text, node, columns: parser.columns };
}

/** Parses an update expression: `col = value; other = value`. */
export function parseUpdate(text: string, what = 'update expression'): Update {
  const parser = new Parser(text, what);
  const assignments = parser.parseUpdate();
  const columns = new Map(parser.columns);
  for (const a of assignments) if (!columns.has(a.column)) columns.set(a.column, a.at);
  return { text, assignments, columns };
}

/** ERR_SCHEMA pointing at the first column the expression names that `known` lacks. */
export function checkColumns(expr: { text: string; columns: Map<string, number> }, known: readonly string[], what: string): void {
  const have = new Set(known);
  for (const [name, at] of expr.columns) {
    if (!have.has(name)) {
      throw expressionError('ERR_SCHEMA', what, expr.text, at, `there is no column "${name.slice(0, 80)}"`, `The columns are ${known.map((k) => `"${k}"`).join(', ')}.`);
    }
  }
}

/** Row readers by column name; a name with no reader reads as null. */
export type Readers = ReadonlyMap<string, (row: number) => unknown>;

/** Compiles a tree into a function of a row number, reading columns through `readers`. */
export function compile(node: Node, readers: Readers): (row: number) => unknown {
  switch (node.kind) {
    case 'literal': {
      const value = node.value;
      return () => value;
    }
    case 'column': {
      return readers.get(node.name) ?? (() => null);
    }
    case 'not': {
      const operand = compile(node.operand, readers);
      return (row) => {
        const value = operand(row);
        return value === null ? null : value !== true;
      };
    }
    case 'negate': {
      const operand = compile(node.operand, readers);
      return (row) => {
        const value = operand(row);
        return typeof value === 'number' ? -value : null;
      };
    }
    case 'and': {
      const left = compile(node.left, readers);
      const right = compile(node.right, readers);
      return (row) => left(row) === true && right(row) === true;
    }
    case 'or': {
      const left = compile(node.left, readers);
      const right = compile(node.right, readers);
      return (row) => left(row) === true || right(row) === true;
    }
    case 'compare': {
      const left = compile(node.left, readers);
      const right = compile(node.right, readers);
      const test = COMPARE[node.op];
      return (row) => test(left(row), right(row));
    }
    case 'arith': {
      const left = compile(node.left, readers);
      const right = compile(node.right, readers);
      const op = node.op;
      return (row) => arith(op, left(row), right(row));
    }
    case 'in': {
      const operand = compile(node.operand, readers);
      const values = new Set<Literal>(node.values);
      const negated = node.negated;
      return (row) => {
        const value = operand(row);
        if (value === null) return false;
        return values.has(value as Literal) !== negated;
      };
    }
  }
}

/**
 * Comparisons: numbers with numbers, strings with strings (by code unit),
 * booleans with booleans. A comparison with null is true only for `== null`
 * and `!= <value>`; values of different kinds are never equal and never
 * ordered.
 */
const COMPARE: Record<CompareOp, (a: unknown, b: unknown) => boolean> = {
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '<': (a, b) => sameKind(a, b) && (a as number) < (b as number),
  '<=': (a, b) => sameKind(a, b) && (a as number) <= (b as number),
  '>': (a, b) => sameKind(a, b) && (a as number) > (b as number),
  '>=': (a, b) => sameKind(a, b) && (a as number) >= (b as number),
};

function sameKind(a: unknown, b: unknown): boolean {
  return a !== null && b !== null && typeof a === typeof b;
}

function arith(op: '+' | '-' | '*' | '/' | '%', a: unknown, b: unknown): unknown {
  if (op === '+' && typeof a === 'string' && typeof b === 'string') return a + b;
  if (typeof a !== 'number' || typeof b !== 'number') return null;
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
    case '%':
      return a % b;
  }
}

/** The rows of a table of `rows` rows for which the compiled filter is true. */
export function matchingRows(test: (row: number) => unknown, rows: number): Int32Array {
  const out = new Int32Array(rows);
  let n = 0;
  for (let i = 0; i < rows; i++) if (test(i) === true) out[n++] = i;
  return out.subarray(0, n);
}
