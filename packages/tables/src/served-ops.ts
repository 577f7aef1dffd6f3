/**
 * Tables over the wire: the `tables.*` ops a server adds with
 * `serve(store, { ops: tableOps() })`, so a client in any language that
 * speaks laminate's protocol (docs/protocol.md) can create, write, read,
 * delete and run commands on the served store's tables.
 *
 * net does not depend on this package, nor this package on net: serve()
 * takes ops by name, and the functions here match the shape it calls
 * (ServedOp in @laminate/net) without importing it. A server that does not
 * serve tables loads none of Arrow, and tables stay usable without net.
 *
 * Request fields: `backend`, `table`, `options` (a map: the read, write,
 * delete or create options, or execute's args), `command` (execute), and
 * `format` for the table bodies: `arrow` (an Arrow IPC stream, the default),
 * `csv` or `jsonl`, so a client without an Arrow library can still read and
 * write. Whatever is wrong in a request is an error reply with a laminate
 * code; the connection stays open.
 */
import { typeError } from '@laminate/core/layer';
import type { Table } from 'apache-arrow';
import { decodeTable, encodeTable, FORMATS, type Format } from './formats.js';
import type { Stack } from './layout.js';
import { type BackendName, tables, type Tables, type TablesOptions } from './tables.js';

/** What serve() hands an op: the request's header and payloads, and the served store. */
export interface TableOpRequest {
  header: Record<string, unknown>;
  payloads: Uint8Array[];
  store: Stack;
}

/** What an op returns to serve(): the work, whether it changes the store, and for a read that its reply's size is not known before it runs. */
export interface TableOpWork {
  work: () => Promise<{ header?: Record<string, unknown>; payloads?: readonly Uint8Array[] }>;
  replySize?: () => Promise<number | undefined>;
  change?: boolean;
}

export type TableOp = (request: TableOpRequest) => TableOpWork;

/** The names of the ops tableOps() returns. */
export const TABLE_OPS = ['tables.create', 'tables.write', 'tables.read', 'tables.delete', 'tables.execute'] as const;

/**
 * The tables ops for serve(store, { ops: tableOps() }). Each served store
 * gets one tables() instance, made at its first request, so kv's compaction
 * count and the clock are shared by every connection.
 */
export function tableOps(opts?: TablesOptions): Record<(typeof TABLE_OPS)[number], TableOp> {
  const instances = new WeakMap<object, Tables>();
  const tablesOf = (store: Stack): Tables => {
    let instance = instances.get(store);
    if (instance === undefined) instances.set(store, (instance = tables(store, opts)));
    return instance;
  };
  // A read's reply size is known only once the table is read: serve() then runs it when the connection has room, one at a time, and refuses a reply larger than maxMessageBytes.
  const unknownSize = (): Promise<undefined> => Promise.resolve(undefined);
  return {
    'tables.create': (request) => ({
      change: true,
      work: async () => {
        const { backend, table, options } = fields(request, 0);
        await tablesOf(request.store).create(backend, table, options);
        return {};
      },
    }),
    'tables.write': (request) => ({
      change: true,
      work: async () => {
        const { backend, table, options, format } = fields(request, 1);
        const data = decodeTable(request.payloads[0], format, `The tables.write body (format ${format})`);
        await tablesOf(request.store).write(backend, table, data, options);
        return { header: { rows: data.numRows } };
      },
    }),
    'tables.read': (request) => ({
      replySize: unknownSize,
      work: async () => {
        const { backend, table, options, format } = fields(request, 0);
        if (options.iterator !== undefined) throw typeError('ERR_INVALID_OPTION', 'tables.read returns the whole table in one reply; leave out "iterator" (narrow the read with filter, columns or a time range instead).');
        const read: Table = await tablesOf(request.store).read(backend, table, options);
        return { header: { rows: read.numRows, format }, payloads: [encodeTable(read, format)] };
      },
    }),
    'tables.delete': (request) => ({
      change: true,
      work: async () => {
        const { backend, table, options } = fields(request, 0);
        await tablesOf(request.store).delete(backend, table, options);
        return {};
      },
    }),
    'tables.execute': (request) => ({
      change: true,
      replySize: unknownSize,
      work: async () => {
        const { backend, table, options } = fields(request, 0);
        const command = request.header.command;
        if (typeof command !== 'string') throw typeError('ERR_INVALID_OPTION', 'tables.execute needs "command", a string such as "update" or "infer".');
        const result = await tablesOf(request.store).execute(backend, table, command, options);
        return { header: { result: plain(result) } };
      },
    }),
  };
}

/** The fields every tables op has, checked, with the number of payloads it must carry. */
function fields(request: TableOpRequest, payloads: number): { backend: BackendName; table: string; options: Record<string, unknown>; format: Format } {
  const { header } = request;
  const op = String(header.op);
  if (request.payloads.length !== payloads) throw typeError('ERR_INVALID_OPTION', `${op} carries ${payloads === 0 ? 'no body' : 'one body, the table'}; got ${request.payloads.length} payloads.`);
  const options = header.options ?? {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw typeError('ERR_INVALID_OPTION', `${op} "options" must be a map; got ${JSON.stringify(options)}.`);
  const format = header.format ?? 'arrow';
  if (!(FORMATS as readonly unknown[]).includes(format)) throw typeError('ERR_INVALID_OPTION', `${op} "format" must be one of ${FORMATS.join(', ')}; got ${JSON.stringify(format)}.`);
  // backend and table are checked by tables() itself, with its own codes.
  return { backend: header.backend as BackendName, table: header.table as string, options: options as Record<string, unknown>, format: format as Format };
}

/** A command's result as MessagePack can carry it: JSON's values (a bigint becomes a number). */
function plain(result: unknown): unknown {
  if (result === undefined) return null;
  return JSON.parse(JSON.stringify(result, (_key, value: unknown) => (typeof value === 'bigint' ? Number(value) : value)));
}
