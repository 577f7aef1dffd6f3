// The server's exactly-once ledger on its own (src/sessions.ts): which copy of a change runs, which
// is answered from memory, what an ack forgets, and how long a session outlives its connections.
// The end-to-end cases (a proxy that cuts the connection) are in reliability.test.ts.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Outcome, Sessions } from '../src/sessions.js';

/** A run() that counts its calls and answers with its own tag. */
function runner(tag: string) {
  const calls = { count: 0 };
  const run = (): Promise<Outcome> => {
    calls.count++;
    return Promise.resolve({ reply: { header: { tag } } } as unknown as Outcome);
  };
  return { calls, run };
}

const tagOf = async (outcome: Promise<Outcome>) => ((await outcome) as { reply: { header: Record<string, unknown> } }).reply.header;

afterEach(() => {
  vi.useRealTimers();
});

describe('Sessions: each change runs once per client', () => {
  it('answers a resent change with its first outcome, without running it again', async () => {
    const sessions = new Sessions(60_000);
    const session = sessions.join('c1');
    const first = runner('first');
    const again = runner('again');
    expect(await tagOf(sessions.settle(session, { id: 1, op: 'append', ack: 1 }, first.run))).toEqual({ tag: 'first' });
    expect(await tagOf(sessions.settle(session, { id: 1, op: 'append', ack: 1 }, again.run))).toEqual({ tag: 'first' });
    expect([first.calls.count, again.calls.count, sessions.duplicates]).toEqual([1, 0, 1]);
    sessions.clear();
  });

  it('treats every changing request as a change, and reads and unknown ops as not', async () => {
    const sessions = new Sessions(60_000);
    const session = sessions.join('c1');
    let id = 0;
    for (const op of ['append', 'iset', 'delete', 'pop', 'drop']) {
      const once = runner(op);
      id++;
      await sessions.settle(session, { id, op, ack: 1 }, once.run);
      await sessions.settle(session, { id, op, ack: 1 }, once.run);
      expect(once.calls.count, op).toBe(1);
    }
    for (const op of ['get', 'keys', 'iget', undefined, 7]) {
      const each = runner(String(op));
      id++;
      await sessions.settle(session, { id, op: op as string, ack: 1 }, each.run);
      await sessions.settle(session, { id, op: op as string, ack: 1 }, each.run);
      expect(each.calls.count, String(op)).toBe(2);
    }
    expect(sessions.duplicates).toBe(5);
    sessions.clear();
  });

  it('runs everything of a connection that named no client', async () => {
    const sessions = new Sessions(60_000);
    const each = runner('x');
    await sessions.settle(undefined, { id: 1, op: 'append' }, each.run);
    await sessions.settle(undefined, { id: 1, op: 'append' }, each.run);
    expect([each.calls.count, sessions.duplicates]).toEqual([2, 0]);
  });

  it('keeps the outcome of the change the ack names (its oldest unanswered one), and forgets those below', async () => {
    const sessions = new Sessions(60_000);
    const session = sessions.join('c1');
    for (const id of [1, 2, 3]) await sessions.settle(session, { id, op: 'append', ack: 1 }, runner(`v${id}`).run);
    // The client has heard 1 and 2 answered: its ack moves up to 3, still unanswered as far as it knows.
    const fourth = runner('v4');
    await sessions.settle(session, { id: 4, op: 'append', ack: 3 }, fourth.run);
    expect([...session.outcomes.keys()]).toEqual([3, 4]);
    expect(session.floor).toBe(3);
    // The connection drops; change 3 comes again on the next one: answered from memory, not applied twice.
    const resent = runner('resent');
    expect(await tagOf(sessions.settle(session, { id: 3, op: 'append', ack: 3 }, resent.run))).toEqual({ tag: 'v3' });
    expect(resent.calls.count).toBe(0);
    // A copy of an acknowledged change is stale: answered as a duplicate, never run.
    const stale = runner('stale');
    expect(await tagOf(sessions.settle(session, { id: 2, op: 'append', ack: 3 }, stale.run))).toEqual({ duplicate: true });
    expect([stale.calls.count, sessions.duplicates]).toEqual([0, 2]);
    sessions.clear();
  });

  it('moves the ack forward on reads too, and never back', async () => {
    const sessions = new Sessions(60_000);
    const session = sessions.join('c1');
    for (const id of [1, 2, 3, 4]) await sessions.settle(session, { id, op: 'append', ack: 1 }, runner(`v${id}`).run);
    await sessions.settle(session, { id: 5, op: 'get', ack: 3 }, runner('read').run);
    expect([...session.outcomes.keys()]).toEqual([3, 4]);
    // A lower ack (a late message) changes nothing.
    await sessions.settle(session, { id: 6, op: 'get', ack: 2 }, runner('read').run);
    expect(session.floor).toBe(3);
    const stale = runner('stale');
    expect(await tagOf(sessions.settle(session, { id: 2, op: 'append', ack: 2 }, stale.run))).toEqual({ duplicate: true });
    expect(stale.calls.count).toBe(0);
    sessions.clear();
  });

  it('ignores an ack that is not a safe whole number', async () => {
    const sessions = new Sessions(60_000);
    const session = sessions.join('c1');
    for (const id of [1, 2]) await sessions.settle(session, { id, op: 'append', ack: 1 }, runner(`v${id}`).run);
    for (const ack of ['5', 2.5, Number.NaN, Infinity, 2 ** 53, null, undefined]) {
      await sessions.settle(session, { id: 9, op: 'get', ack }, runner('read').run);
      expect(session.floor, String(ack)).toBe(1);
      expect([...session.outcomes.keys()], String(ack)).toEqual([1, 2]);
    }
    sessions.clear();
  });

  it('forgets the oldest outcome past 100 000 unacknowledged changes, and only that one', async () => {
    const sessions = new Sessions(60_000);
    const session = sessions.join('c1');
    const quiet = (): Promise<Outcome> => Promise.resolve({ reply: { header: {} } } as unknown as Outcome);
    for (let id = 1; id <= 100_000; id++) sessions.settle(session, { id, op: 'append', ack: 1 }, quiet);
    expect(session.outcomes.size).toBe(100_000);
    expect(session.outcomes.has(1)).toBe(true);
    sessions.settle(session, { id: 100_001, op: 'append', ack: 1 }, quiet);
    expect(session.outcomes.size).toBe(100_000);
    expect([session.outcomes.has(1), session.outcomes.has(2), session.outcomes.has(100_001)]).toEqual([false, true, true]);
    sessions.clear();
  });
});

describe('Sessions: a session outlives its connections by the TTL', () => {
  it('keeps a session while any connection is open, and forgets it TTL after the last one closes', () => {
    vi.useFakeTimers();
    const sessions = new Sessions(1000);
    const a = sessions.join('c1');
    const b = sessions.join('c1');
    expect(b).toBe(a);
    expect([sessions.size, a.connections]).toEqual([1, 2]);
    sessions.leave(a);
    // One connection is still open: no countdown starts.
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(sessions.size).toBe(1);
    sessions.leave(a);
    vi.advanceTimersByTime(999);
    expect(sessions.size).toBe(1);
    vi.advanceTimersByTime(1);
    expect(sessions.size).toBe(0);
    // A new join starts afresh.
    expect(sessions.join('c1')).not.toBe(a);
    sessions.clear();
  });

  it('keeps what a reconnecting client sent, and a reconnection restarts the TTL from its own leaving', async () => {
    vi.useFakeTimers();
    const sessions = new Sessions(1000);
    const session = sessions.join('c1');
    await sessions.settle(session, { id: 1, op: 'append', ack: 1 }, runner('v1').run);
    sessions.leave(session);
    vi.advanceTimersByTime(600);
    expect(sessions.join('c1')).toBe(session);
    sessions.leave(session);
    // The first leaving's timer would have fired here: the session must still be there.
    vi.advanceTimersByTime(600);
    expect(sessions.size).toBe(1);
    const resent = runner('resent');
    expect(await tagOf(sessions.settle(sessions.join('c1'), { id: 1, op: 'append', ack: 1 }, resent.run))).toEqual({ tag: 'v1' });
    expect(resent.calls.count).toBe(0);
    sessions.clear();
  });

  it('clear() forgets every session and its timers', () => {
    vi.useFakeTimers();
    const sessions = new Sessions(1000);
    sessions.leave(sessions.join('c1'));
    sessions.join('c2');
    expect(sessions.size).toBe(2);
    sessions.clear();
    expect(sessions.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("does not keep the process alive for a session's timer", () => {
    const sessions = new Sessions(60_000);
    const session = sessions.join('c1');
    sessions.leave(session);
    expect(session.expiry?.hasRef()).toBe(false);
    sessions.clear();
  });
});
