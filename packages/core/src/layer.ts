// @laminate/core/layer: what you need to write a layer of your own (docs/guide.md, "Write your own layer").
export { BaseStore, BytesStore, type Supports, type IdRange, checkBytes, concatBytes, readRangeIds, wrongValue } from './store.js';
export { WrapperStore, cutBack } from './wrapper.js';
export { EncodeStore, type Codec } from './encode.js';
export { compressLayer, wholeOption, asBuffer, type CompressStore } from './compress.js';
export { registerLayer, isLayer, type LayerEntry, type AnyStore } from './spec.js';
export { type KeyId, keyId, keyFromId, keyParts, showKey } from './keys.js';
export { frame, HEADER as FRAME_HEADER_BYTES } from './framing.js';
export { splitFrames, readFrames, streamFrames, wholeFramesEnd, type FrameReader } from './frames.js';
export { Mutex, SectionGate, type OuterLock } from './mutex.js';
// Whether a lock or a temporary file's owner on this machine still runs.
export { processAlive } from './processes.js';
export { LaminateError, typeError, type ErrorCode } from './errors.js';
export { type ChangeWatch, type FollowRequest, type Followed, FOLLOW_PIECE, abortedError, changed, checkFollowOptions, followBytes, followFrames, nextPiece, pollingWatch, throwIfAborted } from './follow.js';
// Retention hooks (store.ts commitId, consumersId, trimId, startId): the shared checks and errors a layer answers with.
export { type Consumer, byName, pastEnd, trimTarget, trimmedError } from './retention.js';
// Here rather than only in @laminate/core/testing, which needs vitest: the benchmarks build their data with it too.
export { seededRandom } from './random.js';
