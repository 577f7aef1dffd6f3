// laminate: the one package to install. Each layer family lives in a package
// of its own; this one re-exports what a user of them needs, by name.
// laminate/layer has the tools for writing a layer; laminate/testing the conformance suite.
export {
  LaminateError, isLaminateError, type ErrorCode, type Key,
  BaseStore, type Store, type StoreSpec, type Supports, type OpOptions, type AppendData, type ByteRange,
  DictStore, dict, FileStore, file, whyNotAStore, type FileOptions, type FileDropOptions, type LockWait, type LayoutName, BufferStore, buffer, type BufferOptions,
  LogStore, log, type LogOptions,
  EncodeStore, encode, type Codec, zlib, gzip, brotli, lz4, zstd, checksum, type LevelOptions, type CompressStore, msgpack, type MsgpackOptions,
  open, parseSpec, formatSpec, layerTypes, type AnyStore,
  Follower, type FollowOptions, type FollowFrom, type Followed, type Consumer, type ConsumerFollowOptions,
} from '@laminate/core';
export {
  typedArrays, TypedArrayStore, Datetime64Array, parseDtype, type TypedValue, type NumericArray, type DatetimeUnit,
  snappy, bz2, type Bz2Options, blosc, type BloscOptions, type BloscCodecName,
} from '@laminate/codecs';
export { arrow, ArrowStore, arrowColumns, ArrowColumnsStore, type TableLike, typeKey } from '@laminate/arrow';
export { serve, Server, type ServeOptions, client, ClientStore, type ClientOptions } from '@laminate/net';
export { redis, RedisStore, type RedisStoreOptions, type RedisTarget } from '@laminate/redis';
export {
  EpisodePool, type EpisodePoolOptions, type EpisodeMeta, type Query, type Range, type SampleOptions,
  type PoolSchemaInput, type PoolSchemaJSON, type ColumnSpec, type ColumnTypeName, type MetadataSpec, type MetadataType,
} from '@laminate/pool';
export { tables, Tables, tableOps, type BackendName, type TablesOptions, type ReadOptions as TablesReadOptions, type WriteOptions as TablesWriteOptions } from '@laminate/tables';
export { cas, Cas, catalog, Catalog, sha256, type Content, type ObjectStat, type OpenOptions as CasOpenOptions, type ContentInfo, type ContentRecord, type DatasetInfo, type DatasetRecord, type Kind as ContentKind, type ListQuery, type GcOptions, type TableSchema } from '@laminate/cas';
