export { arrow, ArrowStore } from './arrow.js';
export { arrowColumns, ArrowColumnsStore } from './arrow-columns.js';
export { type TableLike, typeKey } from './tables.js';
