import { formatSpec, isLaminateError } from '@laminate/core';
import type { Command } from '../command.js';
import { holdsBytes, openStore } from '../command.js';
import { markUsage, usageError } from '../errors.js';

export const serve: Command = {
  name: 'serve',
  summary: 'share a store over TCP or a Unix socket until stopped',
  usage: ['serve --store SPEC [--listen ADDR] [--token TOKEN] [--insecure] [--max-message-bytes N] [--tables]'],
  description: [
    'Opens SPEC and serves it to client(ADDR) stores in other processes or machines. When it',
    'listens, it prints one line on stdout with the bound address (the port picked for :0):',
    '',
    '  laminate: serving file(/data/x) on tcp://127.0.0.1:40123',
    '',
    'It runs until SIGINT (Ctrl-C) or SIGTERM, then stops taking connections, finishes the',
    'requests in flight, closes the store and exits 0. A second signal while closing exits at',
    'once (130 for SIGINT, 143 for SIGTERM).',
    '',
    'SPEC must hold bytes (file, buffer, a compressor): encoding layers such as msgpack belong on',
    "the client side, msgpack(client(ADDR)), so values cross the wire already encoded.",
    'A TCP address other than loopback needs a token (or --insecure on a trusted network).',
    'Prefer the LAMINATE_TOKEN environment variable to --token: other users can see a',
    "process's arguments. Clients read LAMINATE_TOKEN too.",
    'With --tables, clients in any language can also read and write the store\'s tables',
    '(tables.read, tables.write, … with Arrow IPC, CSV or JSON-lines bodies; docs/protocol.md).',
  ].join('\n'),
  options: {
    store: { type: 'string', value: 'SPEC', help: 'the store to share (required)' },
    listen: { type: 'string', value: 'ADDR', help: 'tcp://HOST:PORT (port 0 picks a free one) or unix:///PATH.sock; default tcp://127.0.0.1:0' },
    token: { type: 'string', value: 'TOKEN', help: 'the secret clients must present; default $LAMINATE_TOKEN' },
    insecure: { type: 'boolean', help: 'serve a non-loopback TCP address without a token' },
    'max-message-bytes': { type: 'string', value: 'N', help: 'the largest frame taken or sent (units allowed: 64MiB); default 64MiB' },
    tables: { type: 'boolean', help: "serve the store's tables too: the tables.* requests of docs/protocol.md" },
  },
  positionals: { min: 0, max: 0, names: 'no positional arguments (the store is --store SPEC)' },
  examples: [
    "laminate serve --store 'file(/data/shuffle)' --listen tcp://127.0.0.1:7070",
    "LAMINATE_TOKEN=s3cret laminate serve --store 'buffer(dict, file(/data/x), availableMemory=1GiB)' --listen tcp://0.0.0.0:7070",
    "laminate serve --store 'zstd(file(/data/x))' --listen unix:///run/laminate.sock",
  ],
  async run({ io, values }) {
    if (typeof values.store !== 'string') throw usageError('serve needs --store SPEC: the store to share, such as --store "file(/data/x)".', 'serve');
    const maxMessageBytes = values['max-message-bytes'] === undefined ? undefined : byteCount(String(values['max-message-bytes']));
    const token = typeof values.token === 'string' ? values.token : io.env.LAMINATE_TOKEN || undefined;
    // serve() refuses this too, but in its own option names ({ token }, { insecure }): say it with the command's, before the store opens.
    if (token === undefined && values.insecure !== true && typeof values.listen === 'string' && (await isPublicTcp(values.listen))) {
      throw usageError(`Refusing to serve ${values.listen} without a token: anyone who reaches that address could read and change the store. Set LAMINATE_TOKEN or pass --token (clients present the same token), or pass --insecure on a trusted network.`, 'serve');
    }
    const store = await openStore(values.store, 'serve');
    let server;
    try {
      if (!holdsBytes(store)) {
        throw usageError(`serve shares a store of bytes, and ${formatSpec(store.describe())} holds encoded values. Serve the bytes below the encoding, and stack the encoding on the client side: serve --store "file(/data/x)", then msgpack(client(ADDR)).`, 'serve');
      }
      const { serve: serveStore } = await import('@laminate/net');
      // Tables (and Arrow with them) are loaded only for a server that serves them.
      const ops = values.tables === true ? (await import('@laminate/tables')).tableOps() : undefined;
      server = await serveStore(store, { listen: typeof values.listen === 'string' ? values.listen : undefined, token, insecure: values.insecure === true, maxMessageBytes, ops });
    } catch (error) {
      await store.close().catch(() => undefined);
      // An address serve() refuses (malformed, or public without a token) is the caller's to fix.
      throw isLaminateError(error, 'ERR_INVALID_OPTION') ? markUsage(error, 'serve') : error;
    }
    // The handlers are in place before the address is printed: whoever reads the line may signal at once.
    const stopped = new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    io.stdout.write(`laminate: serving ${formatSpec(store.describe())} on ${server.address}\n`);
    const signal = await stopped;
    // A second signal while closing (a request that never finishes) stops at once, as shells expect.
    const force = (again: NodeJS.Signals) => process.exit(again === 'SIGINT' ? 130 : 143);
    process.once('SIGINT', force);
    process.once('SIGTERM', force);
    io.stderr.write(`laminate: ${signal}: closing (requests in flight finish first)\n`);
    await server.close();
    await store.close();
    io.stderr.write('laminate: closed\n');
    return 0;
  },
};

/** True for a TCP address other than loopback; an address that does not parse is left to serve() to refuse. */
async function isPublicTcp(listen: string): Promise<boolean> {
  const { parseAddress, isLoopback } = await import('@laminate/net');
  try {
    const address = parseAddress(listen);
    return address.kind === 'tcp' && !isLoopback(address.host);
  } catch {
    return false;
  }
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 2 ** 10, m: 1e6, mb: 1e6, mib: 2 ** 20, g: 1e9, gb: 1e9, gib: 2 ** 30 };

/** "1048576", "64MiB", "1 MB" → bytes. */
function byteCount(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = match?.[2].toLowerCase() ?? '';
  if (!match || !(unit in UNITS)) throw usageError(`--max-message-bytes takes a number of bytes, such as 1048576 or 64MiB; got ${JSON.stringify(text)}.`, 'serve');
  return Math.round(Number(match[1]) * UNITS[unit]);
}
