import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { type RedisStore, redis } from '@laminate/redis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runFixture } from './fixtures/children.js';
import { singleServer } from './fixtures/servers.js';

// withLock between real processes (fixtures/locker.ts), on a single server started here.
const server = await singleServer();
afterAll(() => server.stop());

const children: ChildProcess[] = [];
const stores: RedisStore[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
  for (const store of stores.splice(0)) await store.close();
});

function spec(namespace: string, lockTtlMs?: number): string {
  return JSON.stringify(redis(`${server.url}/${namespace}`, lockTtlMs === undefined ? {} : { lockTtlMs }).describe());
}
function store(namespace: string): RedisStore {
  const made = redis(`${server.url}/${namespace}`);
  stores.push(made);
  return made;
}
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

describe('redis() withLock across processes', () => {
  it('excludes: two processes’ sections never overlap', async () => {
    const ns = randomUUID();
    const sections = 8;
    const [a, b] = ['A', 'B'].map((name) => runFixture(children, 'locker.ts', [spec(ns), name, 'hold', String(sections), '25']));
    expect(await a.exited, a.output()).toBe(0);
    expect(await b.exited, b.output()).toBe(0);
    const entries = text(await store(ns).get('log')).split('|').filter(Boolean);
    expect(entries).toHaveLength(4 * sections);
    // Each section's "in" is followed by its own "out", with nothing of the other process between.
    for (let i = 0; i < entries.length; i += 2) expect([entries[i], entries[i + 1]]).toEqual([entries[i].replace(':out', ':in'), entries[i].replace(':in', ':out')]);
    expect(entries.filter((e) => e.startsWith('A:'))).toHaveLength(2 * sections);
  }, 120_000);

  it('renews the lock while the section runs, far past lockTtlMs, so another process waits', async () => {
    const ns = randomUUID();
    // Renewed every third of the ttl: only a stall of the holder longer than two thirds of it (1.3 s) would lose it.
    const a = runFixture(children, 'locker.ts', [spec(ns, 2000), 'A', 'hold', '1', '7000']);
    await a.line('in');
    const b = runFixture(children, 'locker.ts', [spec(ns, 2000), 'B', 'hold', '1', '0']);
    // A's section ends without ERR_LOCKED (exit 0): its lock was never lost.
    expect(await a.exited, a.output()).toBe(0);
    expect(await b.exited, b.output()).toBe(0);
    expect(text(await store(ns).get('log'))).toBe('A:in|A:out|B:in|B:out|');
  }, 120_000);

  it('lets another process take over the lock of a holder killed with SIGKILL once its ttl runs out', async () => {
    const ns = randomUUID();
    // A ttl long enough that the check below sees the dead holder's lock even on a loaded machine.
    const a = runFixture(children, 'locker.ts', [spec(ns, 5000), 'A', 'hold', '1', '600000']);
    await a.line('in');
    a.process.kill('SIGKILL');
    expect(await a.exited).toBe(null);
    // The dead holder never released it: the lock is still there, with its ttl running.
    expect(Number(server.nodes[0].cli('PTTL', `lam:${ns}:{lock}`).trim())).toBeGreaterThan(0);
    const b = runFixture(children, 'locker.ts', [spec(ns), 'B', 'hold', '1', '0']);
    expect(await b.exited, b.output()).toBe(0);
    expect(text(await store(ns).get('log'))).toBe('A:in|B:in|B:out|');
  }, 120_000);

  it('refuses, with ERR_LOCKED, the writes of a holder paused past its ttl once another took the lock (fencing)', async () => {
    const ns = randomUUID();
    const a = runFixture(children, 'locker.ts', [spec(ns, 600), 'A', 'stale']);
    await a.line('in');
    a.process.kill('SIGSTOP');
    // A cannot renew while stopped: its lock expires and this store's section gets in, with a newer fencing token.
    const b = store(ns);
    await b.withLock(() => b.append({ log: Buffer.from('B:in|') }));
    a.process.kill('SIGCONT');
    a.process.stdin!.write('go\n');
    await a.line('section ERR_LOCKED');
    expect(await a.exited, a.output()).toBe(0);
    // On a single server the script reads the namespace's counter: every write of the stale section is refused, even to a key B never wrote.
    expect(a.output()).toContain('log ERR_LOCKED\nsolo ERR_LOCKED\n');
    expect(text(await b.get('log'))).toBe('A:in|B:in|');
    expect(await b.keys()).toEqual(['log']);
    // Outside a section the store appends as before (the lock is advisory), and B's next section writes.
    await b.append({ log: Buffer.from('free|') });
    await b.withLock(() => b.append({ log: Buffer.from('B:again|') }));
    expect(text(await b.get('log'))).toBe('A:in|B:in|free|B:again|');
  }, 120_000);
});
