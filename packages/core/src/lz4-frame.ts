/**
 * lz4()'s payloads: LZ4 frames (the format of the lz4 command line tool,
 * lz4/doc/lz4_Frame_format.md) with a content checksum, so a damaged value
 * is an error instead of other bytes. The frame is built here around
 * lz4-napi's block codec: its own frame functions check the checksum about
 * five times slower than xxh32.ts, and its reader ignores bytes after the end
 * mark (a flipped bit in the end mark went unseen).
 *
 * What is written: magic, a descriptor with independent blocks, the content
 * size and the content checksum (no block checksums, no dictionary), 4 MiB
 * blocks, the end mark, the XXH32 of the content. `lz4 -d` reads it.
 *
 * Before, lz4() stored a bare LZ4 block behind its 4-byte size, which carries
 * no checksum; such payloads still read (lz4Decode tells them apart by the
 * frame's magic number), but damage inside them cannot be detected.
 */
import * as lz4napi from 'lz4-napi';
import { xxh32 } from './xxh32.js';

const MAGIC = 0x184d2204;
const FLG_VERSION = 0x40;
const FLG_INDEPENDENT = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_DICT_ID = 0x01;
const RAW_BLOCK = 0x8000_0000;
/** Block maximum sizes by the BD byte's code 4–7. */
const BLOCK_MAX: Record<number, number> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };
const WRITE_CODE = 7;
const WRITE_BLOCK = BLOCK_MAX[WRITE_CODE];

/** A Buffer view of `bytes`, without copying (lz4-napi takes Buffers). */
const view = (bytes: Uint8Array) => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));

/** Bytes of the descriptor written: magic, FLG, BD, content size, header checksum. */
const HEAD = 15;

export function encodeLz4Frame(content: Uint8Array): Buffer {
  // compressSync writes a block behind its uncompressed size; the frame wants the compressed size there.
  const blocks: { word: number; data: Uint8Array }[] = [];
  let size = HEAD + 8;
  for (let at = 0; at < content.byteLength; at += WRITE_BLOCK) {
    const chunk = content.subarray(at, at + WRITE_BLOCK);
    const sized = lz4napi.compressSync(view(chunk));
    // A block that does not shrink is stored raw, flagged in its size word.
    const block = sized.byteLength - 4 < chunk.byteLength ? { word: sized.byteLength - 4, data: sized.subarray(4) } : { word: (chunk.byteLength | RAW_BLOCK) >>> 0, data: chunk };
    blocks.push(block);
    size += 4 + block.data.byteLength;
  }
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32LE(MAGIC, 0);
  out[4] = FLG_VERSION | FLG_INDEPENDENT | FLG_CONTENT_SIZE | FLG_CONTENT_CHECKSUM;
  out[5] = WRITE_CODE << 4;
  out.writeUInt32LE(content.byteLength % 0x1_0000_0000, 6);
  out.writeUInt32LE(Math.floor(content.byteLength / 0x1_0000_0000), 10);
  out[14] = (xxh32(out.subarray(4, 14)) >>> 8) & 0xff;
  let at = HEAD;
  for (const { word, data } of blocks) {
    out.writeUInt32LE(word, at);
    out.set(data, at + 4);
    at += 4 + data.byteLength;
  }
  out.writeUInt32LE(0, at);
  out.writeUInt32LE(xxh32(content), at + 4);
  return out;
}

interface Block {
  start: number;
  size: number;
  raw: boolean;
}

interface Frame {
  flags: number;
  blockMax: number;
  contentSize?: number;
  blocks: Block[];
  checksum: number;
}

/** Reads the frame's header and walks its blocks; throws, saying what is wrong, unless the frame fills `payload` exactly. */
function parseFrame(payload: Buffer): Frame {
  if (payload.byteLength < 7) throw new HeaderError('the LZ4 frame header is cut short');
  const flags = payload[4];
  const bd = payload[5];
  if ((flags & 0xc0) !== FLG_VERSION || flags & 0x02 || bd & 0x8f || BLOCK_MAX[bd >> 4] === undefined) throw new HeaderError('the LZ4 frame header is damaged');
  let at = 6;
  let contentSize: number | undefined;
  if (flags & FLG_CONTENT_SIZE) {
    if (payload.byteLength < at + 8) throw new HeaderError('the LZ4 frame header is cut short');
    contentSize = Number(payload.readBigUInt64LE(at));
    at += 8;
  }
  if (flags & FLG_DICT_ID) at += 4;
  if (payload.byteLength < at + 1) throw new HeaderError('the LZ4 frame header is cut short');
  if (((xxh32(payload.subarray(4, at)) >>> 8) & 0xff) !== payload[at]) throw new HeaderError('the LZ4 frame header is damaged (its checksum byte does not match)');
  at += 1;
  if (!(flags & FLG_CONTENT_CHECKSUM)) throw new Error('the LZ4 frame has no content checksum (lz4() writes one in every frame)');

  const blockMax = BLOCK_MAX[bd >> 4];
  const blocks: Block[] = [];
  for (;;) {
    if (payload.byteLength < at + 4) throw new Error(`the LZ4 frame is cut short at byte ${at} (no end mark)`);
    const word = payload.readUInt32LE(at);
    at += 4;
    if (word === 0) break;
    const size = word & ~RAW_BLOCK;
    if (size > blockMax || payload.byteLength < at + size) throw new Error(`block ${blocks.length + 1} of the LZ4 frame announces ${size} bytes, more than ${size > blockMax ? 'a block holds' : 'the frame has left'}`);
    blocks.push({ start: at, size, raw: (word & RAW_BLOCK) !== 0 });
    at += size + (flags & FLG_BLOCK_CHECKSUM ? 4 : 0);
  }
  if (payload.byteLength !== at + 4) throw new Error(`the LZ4 frame ends at byte ${at + 4} of ${payload.byteLength}`);
  return { flags, blockMax, contentSize, blocks, checksum: payload.readUInt32LE(at) };
}

/** A frame's header failed to parse: the one case where a payload may still be a bare block of the old format. */
class HeaderError extends Error {}

/** The content of a frame written as encodeLz4Frame writes it: independent blocks, each decoded by the block codec. */
function decodeBlocks(payload: Buffer, frame: Frame, contentSize: number): Buffer {
  const { blocks, blockMax } = frame;
  // Every block but the last is full: a size that disagrees is damage, caught before allocating it.
  if (contentSize > blocks.length * blockMax || (blocks.length > 0 && contentSize <= (blocks.length - 1) * blockMax) || (blocks.length === 0 && contentSize !== 0)) {
    throw new Error(`the LZ4 frame announces ${contentSize} bytes of content in ${blocks.length} blocks`);
  }
  const pieces = blocks.map((block, i) => {
    const expected = Math.min(blockMax, contentSize - i * blockMax);
    const data = payload.subarray(block.start, block.start + block.size);
    if (block.raw) {
      if (block.size !== expected) throw new Error(`block ${i + 1} of the LZ4 frame holds ${block.size} bytes, not ${expected}`);
      return data;
    }
    return decodeSizedBlock(Buffer.concat([sizeOf(expected), data]), `block ${i + 1} of the LZ4 frame`);
  });
  return pieces.length === 1 && !blocks[0].raw ? pieces[0] : Buffer.concat(pieces, contentSize);
}

function sizeOf(n: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32LE(n, 0);
  return out;
}

/** LZ4's best ratio is below 256 to 1: a size past that is damage, refused before the codec allocates it. */
const MAX_RATIO = 256;

/** A block behind its 4-byte uncompressed size (lz4-napi's block format, and lz4()'s payloads before frames). */
function decodeSizedBlock(sized: Buffer, what: string): Buffer {
  if (sized.byteLength < 4) throw new Error(`${what} is ${sized.byteLength} bytes, too short for its size`);
  const size = sized.readUInt32LE(0);
  if (size > (sized.byteLength - 4) * MAX_RATIO + MAX_RATIO) throw new Error(`${what} announces ${size} bytes, more than its ${sized.byteLength - 4} compressed bytes can hold`);
  const out = lz4napi.uncompressSync(sized);
  if (out.byteLength !== size) throw new Error(`${what} decodes to ${out.byteLength} bytes, not the ${size} it announces`);
  return out;
}

export function decodeLz4Frame(bytes: Uint8Array): Buffer {
  const payload = view(bytes);
  const frame = parseFrame(payload);
  const simple = frame.flags & FLG_INDEPENDENT && frame.contentSize !== undefined && !(frame.flags & FLG_DICT_ID);
  // Frames from other writers (linked blocks, no content size) go to lz4-napi's frame reader.
  const content = simple ? decodeBlocks(payload, frame, frame.contentSize!) : lz4napi.decompressFrameSync(payload);
  if (xxh32(content) !== frame.checksum) throw new Error('the LZ4 frame content checksum does not match: the data is damaged');
  return content;
}

/** An LZ4 frame, or a bare sized block as lz4() wrote before it wrote frames. */
export function lz4Decode(bytes: Uint8Array): Buffer {
  const payload = view(bytes);
  if (payload.byteLength < 4 || payload.readUInt32LE(0) !== MAGIC) return decodeSizedBlock(payload, 'the LZ4 block');
  try {
    return decodeLz4Frame(payload);
  } catch (error) {
    // An old block of exactly MAGIC (407,708,164) bytes starts with the magic
    // too, and passes the header checks only by a chance of 1 in 131,072.
    if (!(error instanceof HeaderError)) throw error;
    try {
      return decodeSizedBlock(payload, 'the LZ4 block');
    } catch {
      throw error;
    }
  }
}
