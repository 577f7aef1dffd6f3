export { EpisodePool, type EpisodePoolOptions, type EpisodeMeta, type Query, type Range, type SampleOptions } from './pool.js';
export { type PoolSchemaInput, type PoolSchemaJSON, type ColumnSpec, type ColumnTypeName, type MetadataSpec, type MetadataType } from './schema.js';
