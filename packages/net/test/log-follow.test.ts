/**
 * A served log() followed through client(): the server learns of another
 * process's appends from log()'s commit log and answers at once, the seal a
 * process writes into the log ends the remote follower, and consumer
 * positions and trims travel to the log.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { log, msgpack } from '@laminate/core';
import { client } from '@laminate/net';
import { describe, expect, it } from 'vitest';
import { harness } from './fixtures/harness.js';

const { later, startedServer, tempDir } = harness();
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..', '..');
const CORE_FIXTURES = join(ROOT, 'packages', 'core', 'test', 'fixtures');

function producer(dir: string, count: number): { child: ChildProcess; exited: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(CORE_FIXTURES, 'log-stream-producer.ts'), dir, String(count)], { cwd: ROOT, stdio: 'pipe' });
  later(() => void child.kill('SIGKILL'));
  let err = '';
  child.stderr!.on('data', (chunk) => (err += chunk));
  return { child, exited: new Promise((resolve) => child.on('close', resolve)), stderr: () => err };
}

describe('follow() of a served log()', () => {
  it('follows what another process appends to the served log() to the seal that process writes, each value once and in order', async () => {
    const dir = tempDir();
    const server = await startedServer(log(dir));
    const store = msgpack(client(server.address));
    later(() => store.close());
    const count = 500;
    const writer = producer(dir, count);
    const follower = store.follow('stream');
    const received: number[] = [];
    for await (const [i] of follower) received.push(i as number);
    expect(await writer.exited, writer.stderr()).toBe(0);
    expect(received).toEqual([...Array(count).keys()]);
    expect(follower.endedBy).toBe('sealed');
  }, 120_000);

  it('commits, trims and the start go to the served log(), which another log() of the directory sees', async () => {
    const dir = tempDir();
    const server = await startedServer(log(dir));
    const remote = client(server.address);
    later(() => remote.close());
    await remote.append({ k: Buffer.from('abcdef') });
    await remote.commit('k', 'reader', 4);
    await remote.trim('k');
    expect(await remote.startOf('k')).toBe(4);
    expect(Buffer.from(await remote.get('k')).toString()).toBe('ef');
    const local = log(dir);
    later(() => local.close());
    expect(await local.startOf('k')).toBe(4);
    expect(await local.consumers('k')).toEqual([{ consumer: 'reader', position: 4 }]);
  });
});
