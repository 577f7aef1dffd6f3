export { arrow, ArrowStore } from './arrow.js';
export { type TableLike } from './tables.js';
