// @laminate/core: the Store contract, the write policies, the compressors and
// msgpack, open() and the errors. Writing a layer of your own takes more:
// @laminate/core/layer. The conformance suite: @laminate/core/testing.
export { LaminateError, isLaminateError, type ErrorCode } from './errors.js';
export type { Key } from './keys.js';
export { BaseStore, type Store, type StoreSpec, type Supports, type OpOptions, type AppendData, type ByteRange } from './store.js';
export { DictStore, dict } from './dict.js';
export { FileStore, file, whyNotAStore, type FileOptions, type FileDropOptions, type LockWait, type LayoutName } from './file.js';
export { BufferStore, buffer, type BufferOptions } from './buffer.js';
export { LogStore, log, type LogOptions } from './log/log.js';
export { EncodeStore, encode, type Codec } from './encode.js';
export { zlib, gzip, brotli, lz4, zstd, type LevelOptions, type CompressStore } from './compress.js';
export { checksum } from './checksum.js';
export { Follower, type FollowOptions, type FollowFrom, type Followed } from './follow.js';
export type { Consumer, ConsumerFollowOptions } from './retention.js';
export type { KeysOptions, KeyListing } from './key-listing.js';
export { msgpack, type MsgpackOptions } from './msgpack.js';
export { open, parseSpec, formatSpec, layerTypes, type AnyStore } from './spec.js';
