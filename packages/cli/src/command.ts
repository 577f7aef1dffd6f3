import { parseArgs } from 'node:util';
import { type AnyStore, isLaminateError, open, parseSpec, type StoreSpec } from '@laminate/core';
import { isLayer } from '@laminate/core/layer';
import { announceLockWaits, checkDirectories, type DirectoryCheck } from './directories.js';
import { markUsage, near, usageError } from './errors.js';
import type { Io } from './io.js';
import { Progress } from './progress.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's name in help (`--listen ADDR`). */
  value?: string;
  help: string;
}

export type Values = Record<string, string | boolean | undefined>;

export interface Context {
  io: Io;
  values: Values;
  positionals: string[];
  /** A progress display chosen from --progress/--no-progress and the terminal. */
  progress(writesToStdout: boolean): Progress;
}

export interface Command {
  name: string;
  /** One line for `laminate --help`. */
  summary: string;
  /** The usage lines after `laminate `. */
  usage: string[];
  /** Paragraphs below the usage. */
  description: string;
  options: Record<string, OptionSpec>;
  /** Positional arguments: at least `min`, at most `max`, named for messages. */
  positionals: { min: number; max: number; names: string };
  examples: string[];
  run(context: Context): Promise<number>;
}

export const PROGRESS_OPTIONS: Record<string, OptionSpec> = {
  progress: { type: 'boolean', help: 'show the progress line on stderr even when stderr is not a terminal' },
  'no-progress': { type: 'boolean', help: 'never show the progress line' },
};

export const HELP_OPTION: Record<string, OptionSpec> = {
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

/** Parses a command's arguments; `undefined` when --help was asked for (the caller prints it). */
export function parseCommand(command: Command, args: string[]): { values: Values; positionals: string[] } | undefined {
  const specs = { ...command.options, ...HELP_OPTION };
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, spec] of Object.entries(specs)) options[name] = { type: spec.type, ...(spec.short ? { short: spec.short } : {}) };
  // Not strict: parseArgs' own messages are long and name the option twice; checkOption says it in one sentence.
  const parsed = parseArgs({ args, options, allowPositionals: true, strict: false, tokens: true });
  for (const token of parsed.tokens) if (token.kind === 'option') checkOption(command, specs, token, args[token.index]);
  if (parsed.values.help) return undefined;
  const { min, max, names } = command.positionals;
  if (parsed.positionals.length < min) throw usageError(`${command.name} needs ${names}; ${parsed.positionals.length === 0 ? 'none was given' : `got only ${parsed.positionals.map((p) => JSON.stringify(p)).join(' ')}`}.`, command.name);
  if (parsed.positionals.length > max) {
    const extra = parsed.positionals.slice(max).map((p) => JSON.stringify(p)).join(' ');
    throw usageError(`${command.name} takes ${names}, and no more arguments; got ${extra} too.`, command.name);
  }
  if (parsed.values.progress && parsed.values['no-progress']) throw usageError('--progress and --no-progress contradict each other; pass one.', command.name);
  return parsed as { values: Values; positionals: string[] };
}

interface OptionToken {
  name: string;
  /** As written, without a value: `--json`, or `-z` out of a group such as `-Hz`. */
  rawName: string;
  value?: string;
  inlineValue?: boolean;
}

/** Throws the usage error for an option the command does not take, or one given a value it cannot have. */
function checkOption(command: Command, specs: Record<string, OptionSpec>, token: OptionToken, typed: string): void {
  const spec = Object.hasOwn(specs, token.name) ? specs[token.name] : undefined;
  const option = token.rawName;
  if (spec === undefined) {
    // `-z` out of `-Hz` is shown in its argument; a long option as typed, without any `=value`.
    const where = option.startsWith('--') || typed === option ? '' : ` (in ${typed})`;
    const like = option.startsWith('--') ? near(option, Object.keys(specs).map((name) => `--${name}`)) : [];
    const hint = like.length > 0 ? `; did you mean ${like.join(' or ')}?` : command.positionals.names.includes('KEY') ? '; a KEY that starts with - goes after --.' : '.';
    throw usageError(`laminate ${command.name} has no option ${option}${where}${hint}`, command.name);
  }
  const value = spec.value ?? 'a value';
  if (spec.type === 'boolean' && token.value !== undefined) throw usageError(`Option ${option} takes no value, and was given ${JSON.stringify(token.value)}.`, command.name);
  if (spec.type === 'string' && token.value === undefined) throw usageError(`Option ${option} needs ${value} after it, and none was given.`, command.name);
  // As parseArgs' strict mode does: `--store --listen X` is a forgotten value, not a store named "--listen".
  if (spec.type === 'string' && !token.inlineValue && token.value!.startsWith('-')) {
    throw usageError(`Option ${option} needs ${value} after it, and was followed by ${token.value}; a value that starts with - goes after an equals sign.`, command.name);
  }
}

/**
 * Opens the stack a SPEC argument describes. A spec that does not parse, or
 * whose options a layer refuses, is the caller's to fix: a usage error
 * (exit 2). Anything else (a locked directory, a server that does not answer)
 * is a runtime error (exit 1).
 */
export async function openStore(text: string, command: string, opts: OpenOptions = {}): Promise<AnyStore> {
  try {
    const spec = await parseWithLayers(text);
    // Before open(): file() makes a directory that does not exist.
    if (opts.directories) checkDirectories(spec, opts.directories, command);
    const store = open(spec);
    if (opts.io) announceLockWaits(store, opts.io);
    return store;
  } catch (error) {
    if (isLaminateError(error, 'ERR_INVALID_SPEC') || isLaminateError(error, 'ERR_INVALID_OPTION')) throw markUsage(error, command);
    throw error;
  }
}

export interface OpenOptions {
  /** What the file() directories of the spec must be before the store opens; unchecked when absent. */
  directories?: DirectoryCheck;
  /** Where to say that a file() directory is locked and the command waits for it. */
  io?: Io;
}

/**
 * The packages whose import registers layers beyond core's, by layer. The
 * command imports one only when a spec names one of its layers, so `laminate
 * --help` or `keys 'file(DIR)'` never loads Arrow, bzip2 or the network code.
 */
const LAYER_PACKAGES: Record<string, () => Promise<unknown>> = {
  snappy: () => import('@laminate/codecs'),
  bz2: () => import('@laminate/codecs'),
  blosc: () => import('@laminate/codecs'),
  typedArrays: () => import('@laminate/codecs'),
  arrow: () => import('@laminate/arrow'),
  arrowColumns: () => import('@laminate/arrow'),
  client: () => import('@laminate/net'),
  redis: () => import('@laminate/redis'),
};

/**
 * Parses a spec, importing the package of each layer it names that open()
 * does not know yet. A layer no package registers loads them all first, so
 * the error lists every layer there is.
 */
async function parseWithLayers(text: string): Promise<StoreSpec> {
  const loaded = new Set<() => Promise<unknown>>();
  for (;;) {
    try {
      return parseSpec(text);
    } catch (error) {
      const unknown = isLaminateError(error, 'ERR_INVALID_SPEC') ? /^Unknown layer "([^"]*)"/.exec(error.message)?.[1] : undefined;
      if (unknown === undefined || isLayer(unknown)) throw error;
      const next = Object.hasOwn(LAYER_PACKAGES, unknown) ? [LAYER_PACKAGES[unknown]] : Object.values(LAYER_PACKAGES);
      const missing = next.filter((load) => !loaded.has(load));
      if (missing.length === 0) throw error;
      for (const load of missing) {
        loaded.add(load);
        await load();
      }
    }
  }
}

/** Runs `fn` on the store and closes it whatever happens. */
export async function withStore<T>(text: string, command: string, opts: OpenOptions, fn: (store: AnyStore) => Promise<T>): Promise<T> {
  const store = await openStore(text, command, opts);
  let result: T;
  try {
    result = await fn(store);
  } catch (error) {
    // The command's error is the one to report, not a second one from closing. After
    // ERR_LOCKED, no closing: file()'s close() takes the directory lock to close its
    // descriptors, so it would wait lockTimeoutMs once more; the process exits instead.
    if (!isLaminateError(error, 'ERR_LOCKED')) await store.close().catch(() => undefined);
    throw error;
  }
  await store.close();
  return result;
}

/** True for stacks whose values are bytes (write policies, compressors, client), as opposed to encoded values. */
export function holdsBytes(store: AnyStore): boolean {
  return store.empty() instanceof Uint8Array;
}
