import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { file, msgpack, open, type OpOptions, type Store, type StoreSpec } from 'laminate';
import { type KeyId, LaminateError, WrapperStore, checkBytes, registerLayer } from 'laminate/layer';

/** readOnly(inner): reads pass through; every change is refused, so a reader cannot write by mistake. */
class ReadOnlyStore extends WrapperStore<Uint8Array> {
  constructor(inner: Store<Uint8Array>) {
    super('readOnly', inner);
  }

  empty(): Uint8Array {
    return Buffer.alloc(0);
  }

  protected checkValue(value: unknown, id: KeyId): asserts value is Uint8Array {
    checkBytes('readOnly', value, id);
  }

  getIds(ids: readonly KeyId[], opts?: OpOptions): Promise<Uint8Array[]> {
    return this.inner.getIds(ids, opts);
  }

  override iterId(id: KeyId): AsyncIterable<Uint8Array> {
    return this.inner.iterId(id);
  }

  listIds(): Promise<KeyId[]> {
    return this.inner.listIds();
  }

  igetId(id: KeyId): Promise<Uint8Array | undefined> {
    return this.inner.igetId(id);
  }

  appendIds(): Promise<void> {
    return refuse('append');
  }

  deleteIds(): Promise<void> {
    return refuse('delete');
  }

  isetId(): Promise<void> {
    return refuse('iset');
  }

  protected override dropAll(): Promise<void> {
    return refuse('drop');
  }

  override repair(): Promise<number> {
    return refuse('repair');
  }
}

async function refuse(what: string): Promise<never> {
  throw new LaminateError('ERR_NOT_SUPPORTED', `This store is read-only: ${what}() is refused. Write through the store below it.`);
}

export function readOnly(inner: Store<Uint8Array>): ReadOnlyStore {
  return new ReadOnlyStore(inner);
}

// The opener is the inverse of describe(): { type: 'readOnly', inner }.
registerLayer('readOnly', { children: ['inner'], open: (spec, open) => readOnly(open(spec.inner as StoreSpec)) });

const dir = mkdtempSync(join(tmpdir(), 'laminate-guide-'));
const writer = msgpack(file(dir));
await writer.append({ orders: [{ id: 1 }, { id: 2 }] });
await writer.close();

const reader = msgpack(readOnly(file(dir)));
console.log(await reader.get('orders'));
try {
  await reader.append({ orders: [{ id: 3 }] });
} catch (error) {
  console.log((error as LaminateError).code, '→', (error as Error).message);
}
const spec = reader.describe();
console.log(JSON.stringify(spec).replace(dir, '…'));
await reader.close();

const again = open(spec);
console.log(await again.keys(), again.supports);
await again.close();
