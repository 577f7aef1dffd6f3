// @laminate/cas: cas() stores immutable objects named by the SHA-256 of their
// bytes over any store of bytes; catalog() records what they are.
export { Cas, cas, sha256, type ObjectStat, type OpenOptions, type StagedObject, type CollectResult } from './cas.js';
export { Catalog, catalog, type DatasetInfo, type ContentInfo, type ListQuery, type GcOptions } from './catalog.js';
export { type Kind, type ContentRecord, type DatasetRecord, type TableSchema } from './records.js';
export { type Content } from './content.js';
