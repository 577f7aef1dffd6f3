import { LaminateError } from './errors.js';
import type { BaseStore, StoreSpec } from './store.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type AnyStore = BaseStore<any>;

export interface LayerEntry {
  /** Builds the layer from its spec; `open` builds the spec's inner stores. */
  open(spec: StoreSpec, open: (spec: StoreSpec) => AnyStore): AnyStore;
  /** The fields that hold inner stores, in the order the short form lists them. */
  children?: readonly string[];
  /** The field a bare value in the short form fills (file's path, client's address). */
  positional?: string;
  /** The other fields the spec may hold (what describe() writes besides type); open() refuses any field not named here. */
  options?: readonly string[];
}

const layers = new Map<string, LayerEntry>();

/**
 * Makes `open()` and the short form know a layer. Each layer registers right
 * after its class, and its opener is the inverse of its describe():
 * `open(store.describe())` rebuilds a store that describes itself the same.
 */
export function registerLayer(type: string, entry: LayerEntry): void {
  layers.set(type, entry);
}

/** The layers open() knows now, by type. */
export function layerTypes(): string[] {
  return [...layers.keys()];
}

/** True when open() knows the layer: it is core's, or its package has been imported. */
export function isLayer(type: string): boolean {
  return layers.has(type);
}

/** Rebuilds a store stack from describe()'s JSON or from its short form, such as `msgpack(lz4(file(/data/x)))`. */
export function open<V = unknown>(spec: StoreSpec | string): BaseStore<V> {
  const parsed = typeof spec === 'string' ? parseSpec(spec) : spec;
  if (parsed === null || typeof parsed !== 'object' || typeof parsed.type !== 'string') {
    throw new LaminateError('ERR_INVALID_SPEC', 'open() takes a spec object such as { type: "file", path: "/data/x" } or its short form "file(/data/x)".');
  }
  const entry = layers.get(parsed.type);
  if (!entry) throw unknownLayer(parsed.type);
  const children = entry.children ?? [];
  for (const child of children) {
    if (typeof parsed[child] !== 'object' || parsed[child] === null) {
      throw new LaminateError('ERR_INVALID_SPEC', `The ${parsed.type} spec needs "${child}": the spec of the store it wraps.`);
    }
  }
  const known = ['type', ...children, ...(entry.positional ? [entry.positional] : []), ...(entry.options ?? [])];
  const unknown = Object.keys(parsed).filter((field) => !known.includes(field));
  if (unknown.length > 0) {
    const takes = known.slice(1);
    throw new LaminateError('ERR_INVALID_SPEC', `The ${parsed.type} spec has ${unknown.map((f) => `"${f}"`).join(', ')}, which ${parsed.type}() does not take. ${takes.length === 0 ? `${parsed.type}() takes no options.` : `Its fields are ${takes.join(', ')}.`}`);
  }
  return entry.open(parsed, open) as BaseStore<V>;
}

function unknownLayer(type: string): LaminateError {
  return new LaminateError('ERR_INVALID_SPEC', `Unknown layer "${type}". Known layers: ${[...layers.keys()].join(', ')}. Layers of other packages register when the package is imported.`);
}

const UNITS: Record<string, number> = { k: 1e3, kb: 1e3, kib: 2 ** 10, m: 1e6, mb: 1e6, mib: 2 ** 20, g: 1e9, gb: 1e9, gib: 2 ** 30, t: 1e12, tb: 1e12, tib: 2 ** 40 };

function scalar(text: string): unknown {
  if (text === 'true') return true;
  if (text === 'false') return false;
  const sized = /^(-?\d+(?:\.\d+)?(?:e\d+)?)\s*([a-z]+)?$/i.exec(text);
  if (sized) {
    const unit = sized[2]?.toLowerCase();
    if (unit === undefined) return Number(sized[1]);
    if (unit in UNITS) return Number(sized[1]) * UNITS[unit];
  }
  return text;
}

/**
 * The short form: `name` or `name(arg, …)`, where an argument is a nested
 * layer, `key=value` (numbers may carry a unit: 64MiB, 2GB), or a bare value
 * for the layer's positional field (a path, an address). Quote values that
 * hold commas or parentheses: `file("/data/a,b")`.
 */
export function parseSpec(text: string): StoreSpec {
  let pos = 0;
  const fail = (why: string): never => {
    throw new LaminateError('ERR_INVALID_SPEC', `Cannot read the store spec "${text}" at character ${pos + 1}: ${why}. Example: "msgpack(lz4(buffer(dict, file(/data/x), availableMemory=64MiB)))".`);
  };
  const skip = () => {
    while (text[pos] === ' ') pos++;
  };
  const word = (): string => {
    const m = /^[A-Za-z][A-Za-z0-9_]*/.exec(text.slice(pos));
    return m ? m[0] : '';
  };
  const value = (): string => {
    skip();
    if (text[pos] === '"' || text[pos] === "'") {
      const quote = text[pos];
      const end = text.indexOf(quote, pos + 1);
      if (end < 0) fail('a quoted value is not closed');
      const out = text.slice(pos + 1, end);
      pos = end + 1;
      return out;
    }
    const start = pos;
    while (pos < text.length && text[pos] !== ',' && text[pos] !== ')') pos++;
    return text.slice(start, pos).trim();
  };
  const layer = (): StoreSpec => {
    skip();
    const type = word();
    if (!type) fail('expected a layer name');
    if (!layers.has(type)) throw unknownLayer(type);
    pos += type.length;
    const entry = layers.get(type)!;
    const spec: StoreSpec = { type };
    const nested: StoreSpec[] = [];
    skip();
    if (text[pos] === '(') {
      pos++;
      for (;;) {
        skip();
        if (text[pos] === ')') break;
        const name = word();
        const after = text[pos + name.length];
        // `level = 9` is `level=9`: spaces before "=" used to make the name a
        // bare value, and the error blamed the layer for taking none.
        let equals = pos + name.length;
        while (text[equals] === ' ') equals++;
        if (name && text[equals] === '=') {
          pos = equals + 1;
          spec[name] = scalar(value());
        } else if (name && layers.has(name) && (after === '(' || after === ',' || after === ')' || after === ' ' || after === undefined)) {
          nested.push(layer());
        } else {
          if (!entry.positional) fail(`${type}() takes no bare value`);
          spec[entry.positional!] = value();
        }
        skip();
        if (text[pos] === ',') pos++;
        else if (text[pos] !== ')') fail('expected "," or ")"');
      }
      pos++;
    }
    const children = entry.children ?? [];
    if (nested.length !== children.length) fail(`${type}() wraps ${children.length === 0 ? 'no store' : children.length === 1 ? 'one store' : `${children.length} stores (${children.join(', ')})`}, got ${nested.length}`);
    children.forEach((child, i) => (spec[child] = nested[i]));
    return spec;
  };
  const spec = layer();
  skip();
  if (pos !== text.length) fail('unexpected text after the spec');
  return spec;
}

/** The short form of a spec (the inverse of parseSpec). */
export function formatSpec(spec: StoreSpec): string {
  const entry = layers.get(spec.type);
  const children = entry?.children ?? [];
  const args: string[] = [];
  if (entry?.positional && spec[entry.positional] !== undefined) args.push(quoteIfNeeded(String(spec[entry.positional])));
  for (const child of children) args.push(formatSpec(spec[child] as StoreSpec));
  for (const [name, v] of Object.entries(spec)) {
    if (name === 'type' || name === entry?.positional || children.includes(name) || v === undefined) continue;
    args.push(`${name}=${quoteIfNeeded(String(v))}`);
  }
  return args.length === 0 ? spec.type : `${spec.type}(${args.join(', ')})`;
}

function quoteIfNeeded(text: string): string {
  return /[,()"' ]/.test(text) ? (text.includes('"') ? `'${text}'` : `"${text}"`) : text;
}
