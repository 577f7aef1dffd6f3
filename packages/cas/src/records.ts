import { crc32 } from 'node:zlib';
import { type Key, LaminateError, type Store } from '@laminate/core';

/**
 * The catalog's records: append-only keys of frames, each a 4-byte
 * little-endian length, the CRC-32 of the JSON, then the JSON. Records are
 * only ever added, so a reader keeps what it has parsed and reads only what
 * was appended since. They fill keys ['catalog', 'records', 0], 1, 2, … of
 * RECORDS_PER_KEY each, so that catching up reads one short key even where
 * the store cannot read part of a key (it returns the key whole): a list()
 * over 100,000 records is a lookup in memory plus one small read.
 */
const RECORDS_PER_KEY = 512;
const HEADER = 8;

const recordsKey = (n: number): Key => ['catalog', 'records', n];

export type Kind = 'file' | 'table' | 'log' | 'histogram' | 'config' | 'menu';
export const KINDS: readonly Kind[] = ['file', 'table', 'log', 'histogram', 'config', 'menu'];

export interface DatasetRecord {
  readonly type: 'dataset';
  readonly id: string;
  readonly menu: unknown;
  readonly config: unknown;
  /** Everything else given to registerDataset(). */
  readonly extra: Readonly<Record<string, unknown>>;
  readonly at: string;
}

export interface JobRecord {
  readonly type: 'job';
  readonly dataset: string;
  readonly job: string;
  readonly at: string;
}

export interface PartitionRecord {
  readonly type: 'partition';
  readonly dataset: string;
  readonly partition: string;
  readonly at: string;
}

/** An Arrow schema as recorded for a table: its fields in order. */
export interface TableSchema {
  readonly fields: readonly { readonly name: string; readonly type: string; readonly nullable: boolean }[];
}

export interface ContentRecord {
  readonly type: 'content';
  /** The object's id: the SHA-256 of its bytes. */
  readonly id: string;
  readonly kind: Kind;
  /** The name list()'s prefix and suffix match; the id when none was given. */
  readonly name: string;
  readonly size: number;
  readonly dataset: string;
  readonly job?: string;
  readonly partition?: string;
  readonly schema?: TableSchema;
  /** Anything else the caller recorded with it (JSON). */
  readonly meta?: unknown;
  readonly at: string;
}

export type CatalogRecord = DatasetRecord | JobRecord | PartitionRecord | ContentRecord;

/** What this process knows of the records, kept in step with the key by refresh(). */
export class RecordIndex {
  readonly datasets = new Map<string, DatasetRecord>();
  readonly jobs = new Map<string, string[]>();
  readonly partitions = new Map<string, string[]>();
  readonly contents: ContentRecord[] = [];
  readonly contentsByDataset = new Map<string, ContentRecord[]>();
  /** Canonical form of every content record, so registering the same thing twice adds nothing. */
  readonly contentKeys = new Set<string>();
  readonly contentIds = new Set<string>();
  private readonly jobSets = new Map<string, Set<string>>();
  private readonly partitionSets = new Map<string, Set<string>>();
  /** Where reading resumes: the records key being filled, its bytes and its records parsed so far. */
  private keyNumber = 0;
  private parsed = 0;
  private parsedInKey = 0;

  constructor(private readonly store: Store<Uint8Array>) {}

  /**
   * Reads and indexes the records appended since the last refresh, by this
   * process or any other. Refreshes may run at once (one inside a withLock
   * section, one waiting for it): each reads, then parses only if no other
   * parsed in between, else reads again from where that one stopped. No
   * refresh waits for another, so none waits on a section that waits on it.
   */
  async refresh(): Promise<void> {
    for (;;) {
      const keyNumber = this.keyNumber;
      const from = this.parsed;
      const tail = await this.readFrom(recordsKey(keyNumber), from);
      if (keyNumber !== this.keyNumber || from !== this.parsed) continue;
      let at = 0;
      while (at + HEADER <= tail.byteLength) {
        const view = Buffer.from(tail.buffer, tail.byteOffset + at, tail.byteLength - at);
        const length = view.readUInt32LE(0);
        if (HEADER + length > view.byteLength) break;
        const json = view.subarray(HEADER, HEADER + length);
        if (crc32(json) !== view.readUInt32LE(4)) {
          throw new LaminateError('ERR_CORRUPT', `The catalog's records key ${keyNumber} fails its checksum at byte ${from + at}: it is damaged. Restore the store from a backup.`, { offset: from + at });
        }
        this.add(JSON.parse(json.toString('utf8')) as CatalogRecord);
        this.parsedInKey++;
        at += HEADER + length;
      }
      this.parsed += at;
      if (this.parsedInKey < RECORDS_PER_KEY) return;
      this.keyNumber++;
      this.parsed = 0;
      this.parsedInKey = 0;
    }
  }

  /** Appends one record; call it inside withLock after refresh(), then it is indexed here too. */
  async append(record: CatalogRecord): Promise<void> {
    const json = Buffer.from(JSON.stringify(record));
    const frame = Buffer.allocUnsafe(HEADER + json.byteLength);
    frame.writeUInt32LE(json.byteLength, 0);
    frame.writeUInt32LE(crc32(json), 4);
    json.copy(frame, HEADER);
    await this.store.append([[recordsKey(this.keyNumber), frame]], { transfer: true });
    await this.refresh();
  }

  hasJob(dataset: string, job: string): boolean {
    return this.jobSets.get(dataset)?.has(job) ?? false;
  }

  hasPartition(dataset: string, partition: string): boolean {
    return this.partitionSets.get(dataset)?.has(partition) ?? false;
  }

  private add(record: CatalogRecord): void {
    // Handed out as they are by list(): frozen through and through, so no caller can change the index.
    deepFreeze(record);
    switch (record.type) {
      case 'dataset':
        this.datasets.set(record.id, record);
        break;
      case 'job':
        push(this.jobs, record.dataset, record.job);
        setOf(this.jobSets, record.dataset).add(record.job);
        break;
      case 'partition':
        push(this.partitions, record.dataset, record.partition);
        setOf(this.partitionSets, record.dataset).add(record.partition);
        break;
      case 'content':
        this.contents.push(record);
        push(this.contentsByDataset, record.dataset, record);
        this.contentKeys.add(contentKey(record));
        this.contentIds.add(record.id);
        break;
    }
  }

  /** A records key from `offset` on: only those bytes where the store reads part of a key. */
  private async readFrom(key: Key, offset: number): Promise<Uint8Array> {
    const ranged = this.store as Store<Uint8Array> & { readRanges?: (ranges: { key: Key; offset: number; length: number }[]) => Promise<Uint8Array[]> };
    if (typeof ranged.readRanges === 'function') return (await ranged.readRanges([{ key, offset, length: Infinity }]))[0];
    return (await this.store.get(key)).subarray(offset);
  }
}

/** What makes two content records the same record: everything but the time. */
export function contentKey(record: Omit<ContentRecord, 'at' | 'type'>): string {
  return canonicalJson([record.id, record.kind, record.name, record.size, record.dataset, record.job ?? null, record.partition ?? null, record.schema ?? null, record.meta ?? null]);
}

/** JSON with object keys sorted, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) return inner;
    return Object.fromEntries(Object.keys(inner).sort().map((k) => [k, (inner as Record<string, unknown>)[k]]));
  });
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  for (const inner of Object.values(value)) deepFreeze(inner);
  Object.freeze(value);
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function setOf(map: Map<string, Set<string>>, key: string): Set<string> {
  let set = map.get(key);
  if (set === undefined) map.set(key, (set = new Set()));
  return set;
}
