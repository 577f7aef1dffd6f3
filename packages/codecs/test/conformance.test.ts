// The conformance suite over every layer of @laminate/codecs; what each stack
// promises beyond the contract is its own supports manifest (typedArrays keeps
// numeric data unframed, partd's layout, so its iter yields a key's values joined).
import { join } from 'node:path';
import { buffer, dict, file } from '@laminate/core';
import { bytesValues, conformance, type Values } from '@laminate/core/testing';
import { type TypedValue, typedArrays } from '@laminate/codecs';
import { LAYERS } from './compressor-layers.js';
import { datetimeValues, float64Values, int32Values, objectValues, uint64Values } from './typed-values.js';

for (const [name, layer] of Object.entries(LAYERS)) {
  conformance(`${name}(file)`, { make: (dir) => layer(file(dir)), values: bytesValues });
  conformance(`${name}(buffer(dict, file))`, { make: (dir) => layer(buffer(dict(), file(dir), { availableMemory: 8 << 10 })), values: bytesValues });
}

const generators: Record<string, Values<TypedValue>> = {
  float64: float64Values,
  int32: int32Values,
  uint64: uint64Values,
  object: objectValues,
  datetime64: datetimeValues,
};

for (const [name, values] of Object.entries(generators)) {
  conformance(`typedArrays(dict) ${name}`, { make: () => typedArrays(dict()), values });
  conformance(`typedArrays(file) ${name}`, { make: (dir) => typedArrays(file(dir)), values });
  conformance(`typedArrays(buffer(dict, file)) ${name}`, { make: (dir) => typedArrays(buffer(dict(), file(join(dir, 'slow')), { availableMemory: 16 << 10 })), values });
}
