import { DictStore } from '@laminate/core';
import { type KeyId, keyParts } from '@laminate/core/layer';
import type { Table } from 'apache-arrow';

/** dict() that remembers every key it was asked to read, as tuple parts. */
export class RecordingDict extends DictStore {
  reads: string[][] = [];
  override async getIds(ids: readonly KeyId[]): Promise<Uint8Array[]> {
    for (const id of ids) this.reads.push(keyParts(id));
    return super.getIds(ids);
  }
}

/** A table's rows as plain objects (Int64 as numbers), for comparisons. */
export function rows(table: Table): Record<string, unknown>[] {
  return table.toArray().map((row) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row.toJSON())) out[k] = typeof v === 'bigint' ? Number(v) : v;
    return out;
  });
}
