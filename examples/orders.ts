/**
 * The shuffle demo's records: seeded order records, their partition, and the
 * checksums that prove a partition read back whole and in order. Shared by
 * examples/shuffle.ts and the shuffle benchmark, so both move the same bytes.
 */

export const PARTITIONS = 256;
/** Records per append call. */
export const BATCH = 20_000;
export const KEYS = Array.from({ length: PARTITIONS }, (_, p) => `part-${String(p).padStart(3, '0')}`);

export interface Expected {
  count: number;
  checksum: number;
}

export interface Order {
  id: number;
  user: string;
  ts: number;
  country: string;
  ip: string;
  amount: number;
  items: { sku: string; qty: number; price: number }[];
  tags: string[];
}

const CHANNELS = ['web', 'mobile', 'store'];
const TAGS = ['promo', 'gift', 'refund', 'express', 'subscription'];
const COUNTRIES = ['DE', 'FR', 'US', 'GB', 'JP', 'CH', 'NL', 'ES', 'IT', 'SE', 'PL', 'BR', 'CA', 'AU', 'IN'];
const EPOCH = Date.UTC(2024, 0, 1);

export function makeOrder(id: number, random: () => number): Order {
  const items: Order['items'] = [];
  let amount = 0;
  for (let n = 1 + Math.floor(random() ** 2 * 4); n > 0; n--) {
    const item = { sku: `SKU-${Math.floor(random() * 50_000)}`, qty: 1 + Math.floor(random() ** 3 * 5), price: Math.round(random() ** 2 * 20_000 + 99) / 100 };
    amount += item.qty * item.price;
    items.push(item);
  }
  const tags = [CHANNELS[Math.floor(random() * CHANNELS.length)]];
  if (random() < 0.3) tags.push(TAGS[Math.floor(random() * TAGS.length)]);
  const byte = () => Math.floor(random() * 256);
  return {
    id,
    user: `user-${Math.floor(random() * 100_000)}`,
    ts: EPOCH + id * 30 + Math.floor(random() * 30_000),
    country: COUNTRIES[Math.floor(random() * COUNTRIES.length)],
    ip: `${10 + Math.floor(random() * 200)}.${byte()}.${byte()}.${1 + Math.floor(random() * 254)}`,
    amount: Math.round(amount * 100) / 100,
    items,
    tags,
  };
}

/** Every field of an order, folded into 32 bits. */
export function fingerprint(o: Order): number {
  let h = mix(mix(o.id, o.ts % 2 ** 32), Math.floor(o.ts / 2 ** 32));
  h = mix(mix(mix(mix(h, hash(o.user)), hash(o.country)), hash(o.ip)), Math.round(o.amount * 100));
  for (const item of o.items) h = mix(mix(mix(h, hash(item.sku)), item.qty), Math.round(item.price * 100));
  for (const tag of o.tags) h = mix(h, hash(tag));
  return h;
}

/** FNV-1a over a string's UTF-16 code units. */
export function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Folds `x` into the running hash `h`; the order of folding matters, so it checks append order too. */
export function mix(h: number, x: number): number {
  return Math.imul((h ^ x) + 0x9e3779b9, 0x85ebca6b) >>> 0;
}

/** A small seeded generator (mulberry32): every run shuffles the same records. */
export function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * Records first … first+size-1, hash-partitioned by user: one append call's
 * batch. Folds each record into its partition's count and checksum.
 */
export function partitionBatch(first: number, size: number, random: () => number, expected: Expected[]): Map<string, Order[]> {
  const batch = new Map<string, Order[]>();
  for (let i = 0; i < size; i++) {
    const order = makeOrder(first + i, random);
    const p = hash(order.user) % PARTITIONS;
    let records = batch.get(KEYS[p]);
    if (!records) batch.set(KEYS[p], (records = []));
    records.push(order);
    expected[p].count++;
    expected[p].checksum = mix(expected[p].checksum, fingerprint(order));
  }
  return batch;
}

/** The count and checksum of a partition as read back. */
export function summarize(orders: Order[]): Expected {
  let checksum = 0;
  for (const order of orders) checksum = mix(checksum, fingerprint(order));
  return { count: orders.length, checksum };
}
