import { statSync } from 'node:fs';
import { file, isLaminateError, msgpack } from 'laminate';

const disk = file();
const orders = msgpack(disk);
const onDisk = () => statSync(disk.fileOf('orders')).size;

// Two consumers, registered before the first value: nothing is trimmed until both have passed it.
await orders.commit('orders', 'billing', 0);
await orders.commit('orders', 'shipping', 0);
for (let id = 1; id <= 6; id++) await orders.append({ orders: [{ id }] });
await orders.seal('orders');
console.log('stored', onDisk(), 'bytes');

// billing takes every order and commits after each; trim: true drops what every consumer has passed.
const billing = orders.follow('orders', { consumer: 'billing', trim: true });
for await (const _ of billing) await billing.commit();
console.log('billing at', billing.position, '- still', onDisk(), 'bytes: shipping has taken nothing');

// shipping stops after two orders (a crash, a deploy): the key now starts where it committed.
const shipping = orders.follow('orders', { consumer: 'shipping', trim: true });
let taken = 0;
for await (const [order] of shipping) {
  console.log('shipping took', order);
  await shipping.commit();
  if (++taken === 2) break;
}
console.log('start', await orders.startOf('orders'), '-', onDisk(), 'bytes left:', await orders.get('orders'));

// Restarted (here, or in another process), shipping resumes where it committed.
const resumed = orders.follow('orders', { consumer: 'shipping', trim: true });
for await (const [order] of resumed) {
  console.log('shipping resumed with', order);
  await resumed.commit();
}
console.log(JSON.stringify(await orders.consumers('orders')), onDisk(), 'bytes left');

// Positions stay absolute: one from before the start is ERR_TRIMMED.
try {
  for await (const value of orders.follow('orders', { from: 32 })) console.log(value);
} catch (error) {
  if (!isLaminateError(error, 'ERR_TRIMMED')) throw error;
  console.log(error.code, error.message);
}
await orders.close();
