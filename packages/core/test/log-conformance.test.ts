import { buffer, dict, log, msgpack, zstd } from '@laminate/core';
import { bytesValues, conformance, recordValues } from '@laminate/core/testing';

conformance('log', { make: (dir) => log(dir), values: bytesValues });
conformance('log fsync', { make: (dir) => log(dir, { fsync: true }), values: bytesValues });
conformance('buffer(dict, log)', { make: (dir) => buffer(dict(), log(dir), { availableMemory: 64 << 10 }), values: bytesValues });
conformance('msgpack(zstd(log))', { make: (dir) => msgpack(zstd(log(dir))), values: recordValues });
