import type { Cluster, Redis } from 'ioredis';

/**
 * The Lua scripts redis() runs. Each touches the names of one laminate key
 * (one hash tag, so one cluster slot), which makes each script atomic on a
 * cluster too. Every script gets KEYS[1] = the key's meta hash and KEYS[2] =
 * its first data segment; further segments are KEYS[2]..':'..i, in the same
 * slot by their tag.
 */

/** Segment i of the key whose first segment is `data`. */
const SEGMENT = `local function segment(i) if i == 0 then return KEYS[2] end return KEYS[2] .. ':' .. i end
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '1')`;

/**
 * The names beside a key's first segment (names.ts): its data name ends in
 * 'd', its seal's in 's' and its channel's in 'c', all under the same tag.
 */
const SIBLING = `local function sibling(data, suffix) return string.sub(data, 1, -2) .. suffix end`;

/**
 * Tells the key's followers that it changed: SPUBLISH on the key's shard
 * channel, which a cluster keeps on the key's own master (a plain PUBLISH
 * would be sent to every node). Through pcall: a server that cannot publish
 * (one older than Redis 7) still takes the append, and followers poll.
 */
const NOTIFY = `local function notify(data) redis.pcall('SPUBLISH', sibling(data, 'c'), '') end`;

/**
 * One producer's append to one key, applied once and in the producer's order,
 * as a Lua function both append scripts call: `meta` is the key's meta hash,
 * `data` its first segment, `counter` the namespace's fencing counter (nil on
 * a cluster, whose scripts reach only the key's slot), `after` the sequence of
 * the producer's previous append to this key (nil when there is none to wait
 * for), `fence` the token of the withLock section the append runs in (nil
 * outside one), and ARGV[first..last] the bytes to append.
 *
 * The meta hash keeps the last sequence applied per producer: a resent
 * command (ioredis resends what was in flight when a connection dropped; the
 * layer retries MOVED/ASK) finds its sequence there and does nothing. A
 * command that overtook an earlier one of the same producer (a retry after a
 * redirection) is refused until the earlier one lands, so the order is the
 * producer's.
 *
 * Fencing: the meta hash keeps the highest token of a section that wrote the
 * key ('f'). An append whose section's token is lower than that, or (single
 * server) lower than the counter, runs in a section whose lock has since been
 * taken by another holder, and is refused: its holder was paused or cut off
 * past the lock's ttl and must not write over the newer holder's work.
 *
 * Returns 1 applied, 0 applied before, -1 an earlier append has not landed,
 * -2 this key has no record of the producer although an earlier append was
 * sent (not landed yet, or the store was dropped), -3 fenced out.
 */
const APPEND_ONE = `${SIBLING}
${NOTIFY}
local function append_one(meta, data, counter, producer, seq, after, fence, limit, first, last)
  local field = 'p:' .. producer
  local record = redis.call('HMGET', meta, field, 'f', 'n')
  local known = tonumber(record[1] or '')
  if known and known >= seq then return 0 end
  if fence then
    local newest = tonumber(record[2] or '0')
    if counter then newest = math.max(newest, tonumber(redis.call('GET', counter) or '0')) end
    if fence < newest then return -3 end
  end
  if known then
    if after and known < after then return -1 end
  elseif after then
    return -2
  end
  local n = tonumber(record[3] or '1')
  local function segment(i) if i == 0 then return data end return data .. ':' .. i end
  local size = redis.call('STRLEN', segment(n - 1))
  for i = first, last do
    local piece = ARGV[i]
    if #piece == 0 then size = redis.call('APPEND', segment(n - 1), '') end
    while #piece > 0 do
      if size >= limit then n = n + 1; size = 0 end
      local part = piece
      if #piece > limit - size then
        part = string.sub(piece, 1, limit - size)
        piece = string.sub(piece, limit - size + 1)
      else
        piece = ''
      end
      size = redis.call('APPEND', segment(n - 1), part)
    end
  end
  if n > 1 then redis.call('HSET', meta, 'n', n) end
  if fence then redis.call('HSET', meta, 'f', fence) end
  redis.call('HSET', meta, field, seq)
  notify(data)
  return 1
end`;

/**
 * One key's append. KEYS: meta, data, (single server) the fencing counter.
 * ARGV: producer id, sequence, previous sequence ('' for none), segment size,
 * fencing token ('' for none), then the bytes.
 */
const APPEND = `${APPEND_ONE}
return append_one(KEYS[1], KEYS[2], KEYS[3], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[5]), tonumber(ARGV[4]), 6, #ARGV)`;

/**
 * Several keys' appends in one script, on a single server (a cluster refuses
 * a script whose names span slots): one call of Redis's script machinery
 * instead of one per key. Each key is applied on its own, as by APPEND.
 * KEYS: the fencing counter, then each key's meta and data. ARGV: producer
 * id, fencing token ('' for none), segment size, then per key its sequence,
 * previous sequence ('' for none), the number of byte arguments, and those.
 * Returns each key's APPEND result, in order.
 */
const APPEND_MANY = `${APPEND_ONE}
local out, at = {}, 4
for j = 1, (#KEYS - 1) / 2 do
  local count = tonumber(ARGV[at + 2])
  out[j] = append_one(KEYS[2 * j], KEYS[2 * j + 1], KEYS[1], ARGV[1], tonumber(ARGV[at]), tonumber(ARGV[at + 1]), tonumber(ARGV[2]), tonumber(ARGV[3]), at + 3, at + 2 + count)
  at = at + 3 + count
end
return out`;

/** The key's segments, in order (none for a missing key): a reader never sees part of an append. */
const READ_SEGMENTS = `${SEGMENT}
local out = {}
if redis.call('EXISTS', KEYS[2]) == 1 then
  for i = 0, n - 1 do out[i + 1] = redis.call('GET', segment(i)) end
end`;

/**
 * Removes the key's bytes, its seal, its start and its consumers (a key
 * written again is a new stream); producer records stay, so a resent append of a deleted key's
 * writer is still known.
 */
const DELETE_SEGMENTS = `${SIBLING}
for i = 0, n - 1 do redis.call('DEL', segment(i)) end
redis.call('DEL', sibling(KEYS[2], 's'), sibling(KEYS[2], 'g'))
redis.call('HDEL', KEYS[1], 'n', 't')`;

/**
 * The key's length in bytes: the sum of its segments' (0 for a missing key);
 * and its start, the position of its first byte (retention: 0 unless
 * trimmed, kept as the meta hash's field 't').
 */
const KEY_LENGTH = `local function key_length()
  local length = 0
  for i = 0, n - 1 do length = length + redis.call('STRLEN', segment(i)) end
  return length
end
local function key_start() return tonumber(redis.call('HGET', KEYS[1], 't') or '0') end`;

const LENGTH = `${SEGMENT}
${KEY_LENGTH}
return key_length()`;

/** The position just past the key's last byte: its start plus its length. */
const END = `${SEGMENT}
${KEY_LENGTH}
return key_start() + key_length()`;

/**
 * Seals the key at position ARGV[1] ('': at its end now, counted in this
 * script, so no append is half counted) unless it is sealed already: the
 * first seal wins, across processes. Returns the length it is sealed at.
 */
const SEAL = `${SEGMENT}
${SIBLING}
${NOTIFY}
${KEY_LENGTH}
local seal = sibling(KEYS[2], 's')
local length = tonumber(ARGV[1])
if not length then length = key_start() + key_length() end
if redis.call('SET', seal, string.format('%.0f', length), 'NX') then notify(KEYS[2]) end
return redis.call('GET', seal)`;

const READ = `${READ_SEGMENTS}
return out`;

const POP = `${READ_SEGMENTS}
${DELETE_SEGMENTS}
return out`;

const DELETE = `${SEGMENT}
${DELETE_SEGMENTS}
return 1`;

/** ARGV: offset, length (-1: to the end). The parts of the segments that overlap the range. */
const RANGE = `${SEGMENT}
local offset, want = tonumber(ARGV[1]), tonumber(ARGV[2])
local out, start = {}, 0
for i = 0, n - 1 do
  if want == 0 then break end
  local len = redis.call('STRLEN', segment(i))
  local from = math.max(offset - start, 0)
  if from < len then
    local to = len - 1
    if want > 0 then to = math.min(to, from + want - 1) end
    local part = redis.call('GETRANGE', segment(i), from, to)
    out[#out + 1] = part
    if want > 0 then want = want - #part end
  end
  start = start + len
end
return out`;

/**
 * A follower's read (retention): ARGV[1] a position, ARGV[2] how many bytes
 * at most. Returns the key's start (as text) then the parts of its segments
 * from that position on; nothing more when the position is before the start
 * (those bytes were trimmed): the start and the read are one script, so a
 * trim cannot fall between them.
 */
const FOLLOW_RANGE = `${SEGMENT}
${KEY_LENGTH}
local start = key_start()
local offset, want = tonumber(ARGV[1]) - start, tonumber(ARGV[2])
local out, at = { string.format('%.0f', start) }, 0
if offset < 0 then return out end
for i = 0, n - 1 do
  if want == 0 then break end
  local len = redis.call('STRLEN', segment(i))
  local from = math.max(offset - at, 0)
  if from < len then
    local part = redis.call('GETRANGE', segment(i), from, math.min(len - 1, from + want - 1))
    out[#out + 1] = part
    want = want - #part
  end
  at = at + len
end
return out`;

/** The key's start and end (positions), and its consumers as HGETALL gives them: what a trim decides from. */
const RETENTION = `${SEGMENT}
${SIBLING}
${KEY_LENGTH}
local start = key_start()
return { start, start + key_length(), redis.call('HGETALL', sibling(KEYS[2], 'g')) }`;

/**
 * Records consumer ARGV[1]'s position ARGV[2] in the key's consumers hash,
 * unless it committed a higher one (positions only move forward). Returns
 * { 1, end }, or { 0, end } when the position is past the key's end.
 */
const COMMIT = `${SEGMENT}
${SIBLING}
${KEY_LENGTH}
local stop = key_start() + key_length()
local position = tonumber(ARGV[2])
if position > stop then return { 0, stop } end
local consumers = sibling(KEYS[2], 'g')
local known = tonumber(redis.call('HGET', consumers, ARGV[1]) or '-1')
if position > known then redis.call('HSET', consumers, ARGV[1], ARGV[2]) end
return { 1, stop }`;

/**
 * Drops the key's bytes before position ARGV[2], given that its start is
 * ARGV[1] as the caller read it (RETENTION). Refused (0) when the key
 * changed meanwhile so that the caller's decision no longer holds: another
 * trim moved the start, the key is shorter than the target (deleted), or a
 * consumer registered below the target; the caller looks again. Whole
 * segments before the target are deleted and the rest renamed down; the
 * first one kept is rewritten from the target on; the key keeps its first
 * segment (empty when everything was trimmed), so it is still listed. 1 when
 * trimmed.
 */
const TRIM = `${SEGMENT}
${SIBLING}
${KEY_LENGTH}
local start, target = tonumber(ARGV[1]), tonumber(ARGV[2])
if key_start() ~= start or start + key_length() < target then return 0 end
local consumers = redis.call('HGETALL', sibling(KEYS[2], 'g'))
for i = 2, #consumers, 2 do
  if tonumber(consumers[i]) < target then return 0 end
end
local drop, whole = target - start, 0
while whole < n - 1 do
  local len = redis.call('STRLEN', segment(whole))
  if drop < len then break end
  redis.call('DEL', segment(whole))
  drop = drop - len
  whole = whole + 1
end
if drop > 0 then
  local first = segment(whole)
  redis.call('SET', first, redis.call('GETRANGE', first, drop, -1))
end
if whole > 0 then
  for i = whole, n - 1 do redis.call('RENAME', segment(i), segment(i - whole)) end
  redis.call('HSET', KEYS[1], 'n', n - whole)
end
redis.call('HSET', KEYS[1], 't', string.format('%.0f', target))
return 1`;

/**
 * Takes the lock (KEYS[1]) for token ARGV[1] for ARGV[2] ms, if free, and
 * returns the next fencing token from the counter (KEYS[2], same slot), which
 * only grows; 0 when the lock is held by another. A resent acquisition that
 * already took the lock gets its token again.
 */
const ACQUIRE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return tonumber(redis.call('GET', KEYS[2])) end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('INCR', KEYS[2]) end
return 0`;

/** Lock scripts: only the holder (its token) extends or releases the lock. */
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

type Arg = string | number | Buffer | Uint8Array;

/** The scripts as commands of a connection (ioredis sends EVALSHA and falls back to EVAL once). */
export interface ScriptCommands {
  /** On a single server with the fencing counter as a third name (the connection was made with `fenceCounter`). */
  laminateAppend(meta: string, data: string, ...args: Arg[]): Promise<number>;
  /** Single server only: the number of names, the names, then the arguments (see APPEND_MANY). */
  laminateAppendMany(...args: Arg[]): Promise<number[]>;
  laminateReadBuffer(meta: string, data: string): Promise<Buffer[]>;
  laminatePopBuffer(meta: string, data: string): Promise<Buffer[]>;
  laminateDelete(meta: string, data: string): Promise<number>;
  laminateRangeBuffer(meta: string, data: string, offset: number, length: number): Promise<Buffer[]>;
  laminateLength(meta: string, data: string): Promise<number>;
  laminateEnd(meta: string, data: string): Promise<number>;
  /** The key's start as text, then the bytes read (none when `position` is before the start). */
  laminateFollowRangeBuffer(meta: string, data: string, position: number, max: number): Promise<Buffer[]>;
  laminateRetention(meta: string, data: string): Promise<[number, number, string[]]>;
  laminateCommit(meta: string, data: string, consumer: string, position: number): Promise<[number, number]>;
  laminateTrim(meta: string, data: string, start: number, target: number): Promise<number>;
  /** Returns the length the key is sealed at (this seal's or an earlier one's), as decimal text. */
  laminateSeal(meta: string, data: string, length: number | ''): Promise<string>;
  laminateAcquire(lock: string, counter: string, token: string, ttlMs: number): Promise<number>;
  laminateRenew(lock: string, token: string, ttlMs: number): Promise<number>;
  laminateRelease(lock: string, token: string): Promise<number>;
}

export type Connection = (Redis | Cluster) & ScriptCommands;

/** `fenceCounter`: appends name the fencing counter too (a single server, where a script may reach any name). */
export function withScripts(connection: Redis | Cluster, fenceCounter: boolean): Connection {
  const keyed = { laminateRead: READ, laminatePop: POP, laminateDelete: DELETE, laminateRange: RANGE, laminateLength: LENGTH, laminateEnd: END, laminateSeal: SEAL, laminateFollowRange: FOLLOW_RANGE, laminateRetention: RETENTION, laminateCommit: COMMIT, laminateTrim: TRIM };
  for (const [name, lua] of Object.entries(keyed)) connection.defineCommand(name, { numberOfKeys: 2, lua });
  connection.defineCommand('laminateAppend', { numberOfKeys: fenceCounter ? 3 : 2, lua: APPEND });
  connection.defineCommand('laminateAppendMany', { lua: APPEND_MANY });
  connection.defineCommand('laminateAcquire', { numberOfKeys: 2, lua: ACQUIRE });
  connection.defineCommand('laminateRenew', { numberOfKeys: 1, lua: RENEW });
  connection.defineCommand('laminateRelease', { numberOfKeys: 1, lua: RELEASE });
  return connection as Connection;
}
