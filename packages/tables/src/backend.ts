/** What each backend module implements, and what tables() hands it. */
import { LaminateError, typeError } from '@laminate/core/layer';
import type { Table } from 'apache-arrow';
import type { Stack } from './layout.js';

export interface Context {
  stack: Stack;
  /** The current time in epoch ms (tests pin it). */
  now(): number;
  /** kv: how many rows this process writes to a table between checks whether to compact it. */
  compactEvery: number;
}

export type Options = Record<string, unknown>;

export interface Backend {
  create(table: string, attrs: Options): Promise<void>;
  write(table: string, data: Table, opts: Options): Promise<void>;
  read(table: string, opts: Options): Promise<Table>;
  delete(table: string, opts: Options): Promise<void>;
  execute(table: string, command: string, args: Options): Promise<unknown>;
}

export function notFound(backend: string, table: string, hint: string): LaminateError {
  return new LaminateError('ERR_NOT_FOUND', `There is no ${backend} table "${table}". ${hint}`);
}

export function unknownCommand(backend: string, command: string, known: readonly string[]): LaminateError {
  return new LaminateError('ERR_NOT_SUPPORTED', `The ${backend} backend has no command "${command}"${known.length > 0 ? `; its commands are ${known.join(', ')}` : '; it has no commands'}.`);
}

/** A list of names given as an array or a comma-separated string. */
export function nameList(value: unknown, name: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter((s) => s.length > 0) : value;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) {
    throw typeError('ERR_INVALID_OPTION', `${name} must be an array of names or a comma-separated string; got ${JSON.stringify(value)}.`);
  }
  return list as string[];
}

export function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw typeError('ERR_INVALID_OPTION', `${name} must be a string; got ${typeof value}.`);
  return value;
}
