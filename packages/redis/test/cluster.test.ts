import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RedisStore, redis } from '@laminate/redis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { checkProducers } from './fixtures/check.js';
import { runFixture } from './fixtures/children.js';
import { cluster } from './fixtures/servers.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..', '..');

const servers = await cluster(3);
afterAll(() => servers.stop());

const stores: RedisStore[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
  for (const store of stores.splice(0)) await store.close();
});
function store(namespace: string = randomUUID()): RedisStore {
  const made = redis({ cluster: servers.urls, namespace });
  stores.push(made);
  return made;
}

/** fixtures/producer.ts in a process of its own; resolves to its output once it exits 0. */
function producer(spec: object, p: number, count: number, keys: number): Promise<string> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(HERE, 'fixtures/producer.ts'), JSON.stringify(spec), String(p), String(count), String(keys), '64'], { cwd: ROOT, stdio: 'pipe' });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (chunk) => (out += chunk));
  child.stderr!.on('data', (chunk) => (out += chunk));
  return new Promise((resolve, reject) => child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`producer ${p} exited ${code}:\n${out}`)))));
}

const keyNames = (n: number) => Array.from({ length: n }, (_, k) => `k${k}`);

/** The number of the masters' slots holding some of the store's keys. */
function mastersHolding(namespace: string): number {
  return servers.nodes.filter((node) => node.cli('--scan', '--pattern', `lam:${namespace}:*:d`).trim() !== '').length;
}

describe('redis({ cluster })', () => {
  it('spreads a store over every master and lists its keys from all of them', async () => {
    const s = store();
    await s.append(Object.fromEntries(keyNames(60).map((k) => [k, Buffer.from(k)])));
    expect(mastersHolding(s.settings.namespace)).toBe(3);
    expect((await s.keys()).sort()).toEqual(keyNames(60).sort());
    await s.drop();
    expect(await s.keys()).toEqual([]);
  });

  it('fences out, per key, the writes of a holder paused past its ttl (ERR_LOCKED where a newer holder wrote)', async () => {
    const s = store();
    const a = runFixture(children, 'locker.ts', [JSON.stringify({ ...s.describe(), lockTtlMs: 600 }), 'A', 'stale']);
    await a.line('in');
    a.process.kill('SIGSTOP');
    await s.withLock(() => s.append({ log: Buffer.from('B:in|') }));
    a.process.kill('SIGCONT');
    a.process.stdin!.write('go\n');
    await a.line('section ERR_LOCKED');
    expect(await a.exited, a.output()).toBe(0);
    // A script reaches only its key's slot: "log", which the newer holder wrote, refuses; "solo", which no newer holder wrote, takes it.
    expect(a.output()).toContain('log ERR_LOCKED\nsolo ok\n');
    expect(Buffer.from(await s.get('log')).toString()).toBe('A:in|B:in|');
    expect(Buffer.from(await s.get('solo')).toString()).toBe('A:late|');
  }, 120_000);

  // 2,500 values each keeps CI short on a loaded machine; LAMINATE_REDIS_VALUES=10000 runs the full size (about 40 s here).
  const count = Number(process.env.LAMINATE_REDIS_VALUES ?? 2500);
  it(`takes 8 producer processes × ${count} values into 100 keys: every value once, in each producer’s order`, async () => {
    const s = store();
    await Promise.all(Array.from({ length: 8 }, (_, p) => producer(s.describe(), p, count, 100)));
    expect(checkProducers(await s.getMany(keyNames(100)), 8, count)).toEqual({ missing: 0, duplicated: 0, outOfOrder: 0 });
  }, 120_000);

  it('keeps appending through a live reshard (MOVED/ASK retried): every value once, in order', async () => {
    const s = store();
    const count = 6000;
    const source = servers.nodes[0];
    const target = servers.nodes[1];
    const id = (node: typeof source) => node.cli('CLUSTER', 'MYID').trim();
    let appended = 0;
    const writing = (async () => {
      for (let wave = 0; wave < count; wave += 100) {
        const calls: Promise<void>[] = [];
        for (let i = wave; i < wave + 100; i++) calls.push(s.append({ [`k${i % 50}`]: Buffer.from(`0:${i}|`) }));
        await Promise.all(calls);
        appended = wave + 100;
      }
    })();
    // Move 2000 slots from one master to another while the appends run.
    const reshard = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('redis-cli', ['--cluster', 'reshard', `127.0.0.1:${source.port}`, '--cluster-from', id(source), '--cluster-to', id(target), '--cluster-slots', '2000', '--cluster-yes', '--cluster-pipeline', '10'], { stdio: 'pipe' });
      children.push(child);
      let out = '';
      child.stdout!.on('data', (chunk) => (out += chunk));
      child.stderr!.on('data', (chunk) => (out += chunk));
      child.on('close', (code) => resolve({ code, out }));
    });
    await writing;
    expect(reshard.code, reshard.out.slice(-2000)).toBe(0);
    expect(appended).toBe(count);
    expect(checkProducers(await s.getMany(keyNames(50)), 1, count)).toEqual({ missing: 0, duplicated: 0, outOfOrder: 0 });
    const check = spawnSync('redis-cli', ['--cluster', 'check', `127.0.0.1:${source.port}`], { encoding: 'utf8' });
    expect(check.stdout).toContain('[OK] All 16384 slots covered');
  }, 120_000);
});
