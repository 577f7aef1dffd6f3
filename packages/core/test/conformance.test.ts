import { join } from 'node:path';
import { brotli, buffer, dict, file, gzip, lz4, msgpack, zlib, zstd } from '@laminate/core';
import { bytesValues, conformance, recordValues } from '@laminate/core/testing';

// What each stack promises beyond the contract (reopening, chunks kept apart) is its own supports manifest.
conformance('dict', { make: () => dict(), values: bytesValues });
conformance('file', { make: (dir) => file(dir), values: bytesValues });
conformance('file exclusive', { make: (dir) => file(dir, { exclusive: true }), values: bytesValues });
conformance('file fsync', { make: (dir) => file(dir, { fsync: true }), values: bytesValues });
conformance('buffer(dict, file)', { make: (dir) => buffer(dict(), file(dir), { availableMemory: 64 << 10 }), values: bytesValues });
conformance('buffer(dict, dict) spilling on every call', { make: () => buffer(dict(), dict(), { availableMemory: 1 }), values: bytesValues });

for (const [name, layer] of Object.entries({ zlib, gzip, brotli, lz4, zstd })) {
  conformance(`${name}(file)`, { make: (dir) => layer(file(dir)), values: bytesValues });
}
conformance('zstd level 9 (buffer(dict, file))', { make: (dir) => zstd(buffer(dict(), file(dir), { availableMemory: 4096 }), { level: 9 }), values: bytesValues });

conformance('msgpack(dict)', { make: () => msgpack(dict()), values: recordValues });
conformance('msgpack(file)', { make: (dir) => msgpack(file(dir)), values: recordValues });
conformance('msgpack(buffer(dict, file))', { make: (dir) => msgpack(buffer(dict(), file(join(dir, 'slow')), { availableMemory: 16 << 10 })), values: recordValues });
conformance('msgpack(buffer(dict, dict)) spilling on every call', { make: () => msgpack(buffer(dict(), dict(), { availableMemory: 1 })), values: recordValues });
conformance('msgpack(records)(file)', { make: (dir) => msgpack(file(dir), { records: true }), values: recordValues });
conformance('msgpack(lz4(buffer(dict, file)))', { make: (dir) => msgpack(lz4(buffer(dict(), file(dir), { availableMemory: 8 << 10 }))), values: recordValues });
