import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { file } from 'laminate';

const dir = mkdtempSync(join(tmpdir(), 'guide-'));

// layout: 'partd' names keys as Python partd does: a part is its own file name,
// and the parts of a tuple are nested folders. partd.File(dir) reads them all.
const store = file(dir, { layout: 'partd' });
await store.append([
  [['sales', 2024], Buffer.from('a')],
  [['sales', 2025], Buffer.from('b')],
  ['totals', Buffer.from('c')],
]);
console.log(readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => !name.startsWith('.')).sort());
console.log((await store.keys()).map((key) => JSON.stringify(key)).sort().join(' '));

// As in partd, 'sales' is a file or the folder of ['sales', …], never both;
// and a part holds only what partd keeps as it is. Both are refused before anything is written.
for (const key of ['sales', ['sales', '2024/Q1']]) {
  try {
    await store.append([[key, Buffer.from('x')]]);
  } catch (error) {
    console.log((error as { code: string }).code, (error as Error).message);
  }
}
console.log(JSON.stringify(store.describe())); // open() rebuilds the layout
await store.close();
rmSync(dir, { recursive: true });
