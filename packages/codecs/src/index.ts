// Each layer registers itself with open() when its module loads.
export {};
export { typedArrays, TypedArrayStore, Datetime64Array, parseDtype, type TypedValue, type NumericArray, type DatetimeUnit } from './typed-arrays.js';
export { snappy } from './snappy.js';
export { bz2, type Bz2Options } from './bz2.js';
export { blosc, type BloscOptions, type BloscCodecName } from './blosc.js';
