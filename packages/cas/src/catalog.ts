import { createHash } from 'node:crypto';
import { LaminateError, type Store } from '@laminate/core';
import { typeError } from '@laminate/core/layer';
import { arrowSchema } from './arrow-schema.js';
import { Cas, type CollectResult, type ObjectStat, type OpenOptions } from './cas.js';
import type { Content } from './content.js';
import { type ContentRecord, type DatasetRecord, KINDS, type Kind, RecordIndex, type TableSchema, canonicalJson, contentKey } from './records.js';

/** The ids each kind of content must name; a kind may also name the others it does not require. */
const REQUIRED: Readonly<Record<Kind, readonly ('job' | 'partition')[]>> = {
  menu: [],
  config: [],
  log: ['job'],
  histogram: ['job'],
  file: ['job', 'partition'],
  table: ['job', 'partition'],
};

export interface DatasetInfo {
  /** What the dataset is made from (any JSON). */
  menu: unknown;
  /** How it was made (any JSON). */
  config: unknown;
  /** Anything else to record with it (JSON). */
  [field: string]: unknown;
}

export interface ContentInfo {
  kind: Kind;
  dataset: string;
  job?: string;
  partition?: string;
  /** A name for list()'s prefix and suffix, such as 'part-00007.arrow'; default the object's id. */
  name?: string;
  /**
   * For a table: its Arrow schema's fields ({ name, type, nullable }), recorded and
   * returned by list(). Read from the bytes (Arrow IPC, stream or file) when not given;
   * a table given as a stream needs it.
   */
  schema?: TableSchema;
  /** Anything else to record (JSON). */
  meta?: unknown;
}

export interface ListQuery {
  dataset?: string;
  job?: string;
  partition?: string;
  kind?: Kind;
  /** Names that start with this. */
  prefix?: string;
  /** Names that end with this. */
  suffix?: string;
  /** Tables whose schema has a field of this name. */
  column?: string;
}

export interface GcOptions {
  /**
   * Unrecorded bytes written from another host are removed once they are
   * this old (ms; default one day): their writer may still be putting them.
   * On this host, a writer's bytes go as soon as its process is gone.
   */
  graceMs?: number;
}

const QUERY_FIELDS = new Set(['dataset', 'job', 'partition', 'kind', 'prefix', 'suffix', 'column']);
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Datasets, their jobs and partitions, and the objects each job wrote (files,
 * tables with their schema, logs, histograms, configs, menus), recorded in the
 * same store as the objects. Records are immutable and only added; every
 * change takes the store's withLock, so processes sharing one file(), log()
 * or redis() store register into one catalog.
 */
export class Catalog {
  readonly objects: Cas;
  private readonly index: RecordIndex;

  constructor(readonly store: Store<Uint8Array>) {
    this.objects = new Cas(store);
    this.index = new RecordIndex(store);
  }

  /** Records a dataset and returns its id, the digest of what it was given: the same dataset twice is one id and one record. */
  async registerDataset(info: DatasetInfo): Promise<string> {
    if (info === null || typeof info !== 'object' || Array.isArray(info)) throw typeError('ERR_INVALID_OPTION', 'registerDataset() takes an object { menu, config, … }.');
    for (const field of ['menu', 'config'] as const) {
      if (info[field] === undefined) throw typeError('ERR_INVALID_OPTION', `registerDataset(): info.${field} is missing; a dataset is named by its menu and its config (any JSON, such as {}).`);
    }
    const { menu, config, ...extra } = info;
    const text = canonicalJson({ menu, config, extra });
    const id = createHash('sha256').update(text).digest('hex').slice(0, 32);
    const record: DatasetRecord = { type: 'dataset', id, ...(JSON.parse(text) as { menu: unknown; config: unknown; extra: Record<string, unknown> }), at: new Date().toISOString() };
    await this.store.withLock(async () => {
      await this.index.refresh();
      if (!this.index.datasets.has(id)) await this.index.append(record);
    });
    return id;
  }

  /** A new job of the dataset: job-1, job-2, … counted per dataset, one number to one caller across processes. */
  async newJob(dataset: string): Promise<string> {
    await this.knownDataset(dataset, 'newJob');
    return this.store.withLock(async () => {
      await this.index.refresh();
      const job = `job-${(this.index.jobs.get(dataset)?.length ?? 0) + 1}`;
      await this.index.append({ type: 'job', dataset, job, at: new Date().toISOString() });
      return job;
    });
  }

  /** Records a partition key of the dataset and returns it; recording it again changes nothing. */
  async newPartition(dataset: string, key: string): Promise<string> {
    if (typeof key !== 'string' || key.length === 0) throw typeError('ERR_INVALID_OPTION', `newPartition(): the partition key must be a non-empty string; got ${JSON.stringify(key)}.`);
    await this.knownDataset(dataset, 'newPartition');
    await this.store.withLock(async () => {
      await this.index.refresh();
      if (!this.index.hasPartition(dataset, key)) await this.index.append({ type: 'partition', dataset, partition: key, at: new Date().toISOString() });
    });
    return key;
  }

  /**
   * Stores the content as an object (once, whatever registers it) and records
   * what it is; returns the object's id. The ids the kind requires are
   * checked before a byte is written. Registering the same content with the
   * same info again returns the same id and adds no record.
   *
   * The bytes are written first, outside the lock; recording them under the
   * id and adding the record happen in one withLock section, which gc() also
   * takes, so gc() never sees an object that is about to be recorded.
   */
  async registerContent(content: Content, info: ContentInfo): Promise<string> {
    const checked = await this.checkInfo(info, content);
    const staged = await this.objects.write(content);
    let committed = false;
    try {
      return await this.store.withLock(async () => {
        const id = await this.objects.commit(staged);
        // Recorded now: should the catalog record fail, the object stays, unnamed, for gc().
        committed = true;
        await this.index.refresh();
        const record: ContentRecord = { type: 'content', id, ...checked, name: checked.name ?? id, size: staged.size, at: new Date().toISOString() };
        if (!this.index.contentKeys.has(contentKey(record))) await this.index.append(record);
        return id;
      });
    } catch (error) {
      if (!committed) await this.objects.discard(staged).catch(() => undefined);
      throw error;
    }
  }

  /** The content records that match every field given, in the order they were registered. */
  async list(query: ListQuery = {}): Promise<ContentRecord[]> {
    if (query === null || typeof query !== 'object') throw typeError('ERR_INVALID_OPTION', 'list() takes an object { dataset, job, partition, kind, prefix, suffix, column }.');
    for (const field of Object.keys(query)) {
      if (!QUERY_FIELDS.has(field)) throw typeError('ERR_INVALID_OPTION', `list(): unknown field ${JSON.stringify(field)}; the fields are ${[...QUERY_FIELDS].join(', ')}.`);
    }
    if (query.kind !== undefined && !KINDS.includes(query.kind)) throw typeError('ERR_INVALID_OPTION', `list(): kind must be one of ${KINDS.join(', ')}; got ${JSON.stringify(query.kind)}.`);
    await this.index.refresh();
    const { dataset, job, partition, kind, prefix, suffix, column } = query;
    const from = dataset === undefined ? this.index.contents : (this.index.contentsByDataset.get(dataset) ?? []);
    return from.filter(
      (record) =>
        (job === undefined || record.job === job) &&
        (partition === undefined || record.partition === partition) &&
        (kind === undefined || record.kind === kind) &&
        (prefix === undefined || record.name.startsWith(prefix)) &&
        (suffix === undefined || record.name.endsWith(suffix)) &&
        (column === undefined || (record.schema?.fields.some((field) => field.name === column) ?? false)),
    );
  }

  async listDatasets(): Promise<DatasetRecord[]> {
    await this.index.refresh();
    return [...this.index.datasets.values()];
  }

  /** The dataset's jobs, oldest first. */
  async listJobs(dataset: string): Promise<string[]> {
    await this.knownDataset(dataset, 'listJobs');
    return [...(this.index.jobs.get(dataset) ?? [])];
  }

  /** The dataset's partition keys, in the order they were recorded. */
  async listPartitions(dataset: string): Promise<string[]> {
    await this.knownDataset(dataset, 'listPartitions');
    return [...(this.index.partitions.get(dataset) ?? [])];
  }

  /** An object's bytes, checked against its id (Cas.get). */
  get(id: string): Promise<Uint8Array> {
    return this.objects.get(id);
  }

  /** An object in chunks, with ranges (Cas.open). */
  open(id: string, opts?: OpenOptions): AsyncIterable<Uint8Array> {
    return this.objects.open(id, opts);
  }

  stat(id: string): Promise<ObjectStat | undefined> {
    return this.objects.stat(id);
  }

  /**
   * Removes every object no record names, and the bytes of puts whose writer
   * is gone. It runs in one withLock section: a registerContent() in another
   * process records its object in a section of its own, before or after this
   * one, never in between; the bytes it is still writing carry its live
   * writer's tag and are kept.
   */
  async gc(opts: GcOptions = {}): Promise<CollectResult> {
    const graceMs = opts.graceMs ?? DAY_MS;
    if (typeof graceMs !== 'number' || !(graceMs >= 0)) throw typeError('ERR_INVALID_OPTION', `gc(): graceMs must be a number of milliseconds, 0 or more; got ${String(graceMs)}.`);
    return this.store.withLock(async () => {
      await this.index.refresh();
      return this.objects.collect(this.index.contentIds, graceMs);
    });
  }

  close(): Promise<void> {
    return this.store.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async knownDataset(dataset: unknown, call: string): Promise<void> {
    if (typeof dataset !== 'string' || dataset.length === 0) throw typeError('ERR_INVALID_OPTION', `${call}(): the dataset id is missing; pass the id registerDataset() returned.`);
    await this.index.refresh();
    if (!this.index.datasets.has(dataset)) throw new LaminateError('ERR_NOT_FOUND', `${call}(): unknown dataset ${JSON.stringify(dataset)}; register it with registerDataset() first.`, { key: dataset });
  }

  /** The info as it will be recorded, or the coded error naming the id that is missing or unknown. */
  private async checkInfo(info: ContentInfo, content: Content): Promise<Omit<ContentRecord, 'type' | 'id' | 'size' | 'at' | 'name'> & { name?: string }> {
    if (info === null || typeof info !== 'object') throw typeError('ERR_INVALID_OPTION', 'registerContent() takes the content and an info object { kind, dataset, job, partition, … }.');
    const { kind, dataset, job, partition, name, schema, meta } = info;
    if (!KINDS.includes(kind)) throw typeError('ERR_INVALID_OPTION', `registerContent(): info.kind must be one of ${KINDS.join(', ')}; got ${JSON.stringify(kind)}.`);
    if (dataset === undefined) throw typeError('ERR_INVALID_OPTION', `registerContent(): a ${kind} needs info.dataset, the id registerDataset() returned.`);
    await this.knownDataset(dataset, 'registerContent');
    for (const field of REQUIRED[kind]) {
      if (info[field] === undefined) throw typeError('ERR_INVALID_OPTION', `registerContent(): a ${kind} needs info.${field}${field === 'job' ? ' (from newJob())' : ' (from newPartition())'}.`);
    }
    if (job !== undefined && (typeof job !== 'string' || !this.index.hasJob(dataset, job))) {
      throw new LaminateError('ERR_NOT_FOUND', `registerContent(): unknown job ${JSON.stringify(job)} of dataset ${dataset}; get one from newJob().`, { key: String(job) });
    }
    if (partition !== undefined && (typeof partition !== 'string' || !this.index.hasPartition(dataset, partition))) {
      throw new LaminateError('ERR_NOT_FOUND', `registerContent(): unknown partition ${JSON.stringify(partition)} of dataset ${dataset}; record it with newPartition() first.`, { key: String(partition) });
    }
    if (name !== undefined && (typeof name !== 'string' || name.length === 0)) throw typeError('ERR_INVALID_OPTION', `registerContent(): info.name must be a non-empty string; got ${JSON.stringify(name)}.`);
    // A table's schema: as given, or read from its Arrow IPC bytes.
    const tableSchema = kind === 'table' ? (schema === undefined && content instanceof Uint8Array ? arrowSchema(content) : checkSchema(schema)) : undefined;
    if (kind !== 'table' && schema !== undefined) throw typeError('ERR_INVALID_OPTION', `registerContent(): only a table has a schema; this is a ${kind}.`);
    const out: Omit<ContentRecord, 'type' | 'id' | 'size' | 'at' | 'name'> & { name?: string } = { kind, dataset, name };
    if (job !== undefined) Object.assign(out, { job });
    if (partition !== undefined) Object.assign(out, { partition });
    if (tableSchema !== undefined) Object.assign(out, { schema: { fields: tableSchema.fields.map(({ name: field, type, nullable }) => ({ name: field, type, nullable })) } });
    if (meta !== undefined) Object.assign(out, { meta: JSON.parse(JSON.stringify(meta)) as unknown });
    return out;
  }
}

/** A catalog of datasets, jobs, partitions and content over `store` (any store of bytes that file(), log() or redis() end in). */
export function catalog(store: Store<Uint8Array>): Catalog {
  return new Catalog(store);
}

function checkSchema(schema: unknown): TableSchema {
  const fields = (schema as { fields?: unknown } | undefined)?.fields;
  const ok = Array.isArray(fields) && fields.length > 0 && fields.every((f) => f !== null && typeof f === 'object' && typeof f.name === 'string' && typeof f.type === 'string' && typeof f.nullable === 'boolean');
  if (!ok) {
    throw new LaminateError('ERR_SCHEMA', 'registerContent(): a table given as a stream needs info.schema, its Arrow schema as { fields: [{ name, type, nullable }] } (from an apache-arrow Table: { fields: table.schema.fields.map((f) => ({ name: f.name, type: String(f.type), nullable: f.nullable })) }); given as bytes, it is read from them.');
  }
  return schema as TableSchema;
}
