// Each layer registers itself with open() when its module loads.
export {};
export { typedArrays, TypedArrayStore, Datetime64Array, parseDtype, type TypedValue, type NumericArray, type DatetimeUnit } from './typed-arrays.js';
