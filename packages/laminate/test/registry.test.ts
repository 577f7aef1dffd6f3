/**
 * One registration rule: every layer open() knows is rebuilt from its own
 * describe() exactly (as JSON and in the short form), and a spec field the
 * layer does not take is refused instead of ignored. The examples cover every
 * registered layer, so a layer added without its inverse fails here.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type AnyStore, type StoreSpec, arrow, arrowColumns, blosc, brotli, buffer, bz2, checksum, client, dict, file, formatSpec, gzip, layerTypes, log, lz4, msgpack, open, parseSpec, snappy, typedArrays, redis, zlib, zstd,
} from 'laminate';
import { rejection, tempDirs } from 'laminate/testing';

const dir = tempDirs('laminate-registry-', afterAll)(); // before the afterAll below: the stores close, then the directory goes
const stores: AnyStore[] = [];
afterAll(async () => {
  for (const store of stores) await store.close().catch(() => undefined);
});

/** Each layer with options away from their defaults, and the fields its describe() must then record. */
const examples: Record<string, [() => AnyStore, Record<string, unknown>]> = {
  dict: [() => dict(), {}],
  file: [() => file(join(dir, 'f'), { fsync: true, maxOpenFiles: 7, lockTimeoutMs: 1234, layout: 'partd' }), { path: join(dir, 'f'), fsync: true, maxOpenFiles: 7, lockTimeoutMs: 1234, layout: 'partd' }],
  buffer: [() => buffer(dict(), file(join(dir, 'b')), { availableMemory: 1 << 20, maxDiskBytes: 1 << 30, spillFraction: 0.25, maxSpillKeys: 9 }), { availableMemory: 1 << 20, maxDiskBytes: 1 << 30, spillFraction: 0.25, maxSpillKeys: 9 }],
  log: [() => log(join(dir, 'l'), { fsync: true, maxDiskBytes: 1 << 30, lockTimeoutMs: 1234, checkpointEvery: 99 }), { path: join(dir, 'l'), fsync: true, maxDiskBytes: 1 << 30, lockTimeoutMs: 1234, checkpointEvery: 99 }],
  zlib: [() => zlib(dict(), { level: 2 }), { level: 2 }],
  gzip: [() => gzip(dict(), { level: 8 }), { level: 8 }],
  brotli: [() => brotli(dict(), { level: 5 }), { level: 5 }],
  zstd: [() => zstd(dict(), { level: 11 }), { level: 11 }],
  lz4: [() => lz4(dict()), {}],
  checksum: [() => checksum(dict()), {}],
  msgpack: [() => msgpack(dict(), { records: true }), { records: true }],
  snappy: [() => snappy(dict()), {}],
  bz2: [() => bz2(dict(), { level: 3 }), { level: 3 }],
  blosc: [() => blosc(dict(), { level: 4, shuffle: 0, typesize: 4, cname: 'zstd' }), { level: 4, shuffle: 0, typesize: 4, cname: 'zstd' }],
  typedArrays: [() => typedArrays(dict()), {}],
  arrow: [() => arrow(dict()), {}],
  arrowColumns: [() => arrowColumns(dict()), {}],
  // The token is a secret: describe() never records it.
  client: [() => client('tcp://127.0.0.1:1', { token: 'secret', maxMessageBytes: 1 << 20, connectTimeoutMs: 50, maxBytesInFlight: 1 << 22 }), { address: 'tcp://127.0.0.1:1', maxMessageBytes: 1 << 20, connectTimeoutMs: 50, maxBytesInFlight: 1 << 22 }],
  // Nothing connects until a call needs Redis; the password (in the URL or an option) is never described.
  redis: [
    () => redis('redis://user:secret@127.0.0.1:1/registry', { segmentBytes: 1 << 20, maxBytesInFlight: 1 << 22, waitReplicas: 1, waitTimeoutMs: 50, lockTtlMs: 500, connectTimeoutMs: 50 }),
    { url: 'redis://127.0.0.1:1/registry', segmentBytes: 1 << 20, maxBytesInFlight: 1 << 22, waitReplicas: 1, waitTimeoutMs: 50, lockTtlMs: 500, connectTimeoutMs: 50 },
  ],
};

const made = (make: () => AnyStore) => {
  const store = make();
  stores.push(store);
  return store;
};

describe('open() and describe()', () => {
  it('has an example for every registered layer', () => {
    expect(Object.keys(examples).sort()).toEqual(layerTypes().sort());
  });

  for (const [type, [make, fields]] of Object.entries(examples)) {
    it(`rebuilds ${type} from its describe(), as JSON and in the short form, and refuses fields it does not take`, async () => {
      const spec = made(make).describe();
      expect(spec.type).toBe(type);
      expect(spec).toMatchObject(fields);
      expect(JSON.stringify(spec)).not.toContain('secret');
      const fromJson = made(() => open(JSON.parse(JSON.stringify(spec)) as StoreSpec));
      expect(fromJson.describe()).toEqual(spec);
      const fromText = made(() => open(parseSpec(formatSpec(spec))));
      expect(fromText.describe()).toEqual(spec);
      const error = await rejection((async () => open({ ...spec, colour: 'blue' }))());
      expect(error.code).toBe('ERR_INVALID_SPEC');
      expect(error.message).toContain(`The ${type} spec has "colour", which ${type}() does not take.`);
    });
  }
});
