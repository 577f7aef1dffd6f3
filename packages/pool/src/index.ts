export { EpisodePool, type EpisodePoolOptions } from './pool.js';
export { type EpisodeMeta, type Query, type Range } from './query.js';
export { type SampleOptions } from './readers.js';
export { type PoolSchemaInput, type PoolSchemaJSON, type ColumnSpec, type ColumnTypeName, type MetadataSpec, type MetadataType } from './schema.js';
