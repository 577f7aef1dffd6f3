export { tables, Tables, BACKENDS, type BackendName, type TablesOptions, type ReadOptions, type WriteOptions } from './tables.js';
export { parseExpression, parseUpdate, LIMITS as EXPRESSION_LIMITS, type Expression, type Update } from './expression.js';
export { parseTime, parseDuration, parseRate } from './time.js';
export { AGGREGATORS, type Aggregator } from './tsdb.js';
export type { FrameInput } from './frames.js';
export { encodeTable, decodeTable, csvText, csvTable, jsonlText, jsonlTable, arrowBytes, arrowTable, FORMATS, type Format } from './formats.js';
export { tableOps, TABLE_OPS, type TableOp, type TableOpRequest, type TableOpWork } from './served-ops.js';
