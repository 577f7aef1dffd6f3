import { join } from 'node:path';
import { buffer, dict, file } from '@laminate/core';
import { conformance, type Values } from '@laminate/core/testing';
import { type TypedValue, typedArrays } from '@laminate/codecs';
import { datetimeValues, float64Values, int32Values, objectValues, uint64Values } from './typed-values.js';

// Numeric data is stored without frames (partd's layout), so iter yields a key's
// values joined, not one per append, on every stack.
const joinedOnly = { iterChunks: false };
const memoryOnly = { iterChunks: false, reopen: false };

const generators: Record<string, Values<TypedValue>> = {
  float64: float64Values,
  int32: int32Values,
  uint64: uint64Values,
  object: objectValues,
  datetime64: datetimeValues,
};

for (const [name, values] of Object.entries(generators)) {
  conformance(`typedArrays(dict) ${name}`, { make: () => typedArrays(dict()), values, supports: memoryOnly });
  conformance(`typedArrays(file) ${name}`, { make: (dir) => typedArrays(file(dir)), values, supports: joinedOnly });
  conformance(`typedArrays(buffer(dict, file)) ${name}`, {
    make: (dir) => typedArrays(buffer(dict(), file(join(dir, 'slow')), { availableMemory: 16 << 10 })),
    values,
    supports: joinedOnly,
  });
}
