/**
 * `laminate cas` and `laminate catalog`, run for real through the umbrella
 * package's bin: stdout, stderr, exit status and the bytes written.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { file } from '@laminate/core';
import { tempDirs } from '@laminate/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalog, sha256 } from '../src/index.js';

const BIN = fileURLToPath(new URL('../../laminate/bin/laminate.mjs', import.meta.url));
const tempDir = tempDirs('laminate-cas-cli-', afterAll);

function laminate(args: string[], input?: Buffer): Promise<{ code: number | null; stdout: Buffer; err: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: 'pipe' });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  child.stdin.end(input ?? Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout: Buffer.concat(out), err }));
  });
}

describe('laminate cas and laminate catalog', () => {
  // In a clone, the bin builds dist/ first when the sources changed, saying so on stderr: done here, once.
  beforeAll(async () => {
    expect((await laminate(['--version'])).code).toBe(0);
  }, 300_000);

  it('puts a file and stdin, prints their ids, gets the bytes back, and refuses a damaged object', async () => {
    const dir = tempDir();
    const spec = `file(${join(dir, 'store')})`;
    const content = Buffer.alloc(3 << 20, 'laminate ');
    fs.writeFileSync(join(dir, 'in.bin'), content);
    const put = await laminate(['cas', 'put', spec, join(dir, 'in.bin')]);
    expect([put.code, put.err]).toEqual([0, '']);
    expect(put.stdout.toString()).toBe(`${sha256(content)}\n`);
    const again = await laminate(['cas', 'put', spec, '-'], content);
    expect(again.stdout.toString()).toBe(put.stdout.toString());

    const get = await laminate(['cas', 'get', spec, sha256(content)]);
    expect(get.code).toBe(0);
    expect(get.stdout.equals(content)).toBe(true);

    const dataDir = join(dir, 'store', 'cas%d', 'data%d');
    const [name] = fs.readdirSync(dataDir);
    const damaged = fs.readFileSync(join(dataDir, name));
    damaged[damaged.byteLength - 1] ^= 1;
    fs.writeFileSync(join(dataDir, name), damaged);
    const bad = await laminate(['cas', 'get', spec, sha256(content)]);
    expect(bad.code).toBe(1);
    expect(bad.stdout.byteLength).toBe(0);
    expect(bad.err).toMatch(/^laminate: ERR_CORRUPT: Object [0-9a-f]{64} no longer hashes to its id/);

    const missing = await laminate(['cas', 'get', spec, sha256(Buffer.from('other'))]);
    expect([missing.code, missing.err]).toEqual([1, expect.stringMatching(/ERR_NOT_FOUND/)]);
    const wrong = await laminate(['cas', 'fetch', spec, 'x']);
    expect([wrong.code, wrong.err]).toEqual([2, expect.stringMatching(/cas needs put or get first/)]);
  }, 120_000);

  it('lists a catalog, filtered, as tab-separated lines or JSON', async () => {
    const dir = tempDir();
    const store = file(dir);
    const cat = catalog(store);
    const ds = await cat.registerDataset({ menu: 'orders', config: { days: 1 } });
    const job = await cat.newJob(ds);
    await cat.newPartition(ds, 'p0');
    const a = await cat.registerContent(Readable.from([Buffer.from('part zero')]), { kind: 'file', dataset: ds, job, partition: 'p0', name: 'p0.bin' });
    const b = await cat.registerContent(Buffer.from('a log'), { kind: 'log', dataset: ds, job, name: 'job.log' });
    await store.close();
    const all = await laminate(['catalog', 'ls', `file(${dir})`]);
    expect(all.code, all.err).toBe(0);
    expect(all.stdout.toString()).toBe(`${a}\tfile\t9\t${ds}\tjob-1\tp0\tp0.bin\n${b}\tlog\t5\t${ds}\tjob-1\t-\tjob.log\n`);
    const logs = await laminate(['catalog', 'ls', `file(${dir})`, '--dataset', ds, '--kind', 'log', '--json']);
    expect(logs.stdout.toString().trim().split('\n').map((line) => JSON.parse(line) as unknown)).toEqual([expect.objectContaining({ id: b, kind: 'log', name: 'job.log' })]);
    expect((await laminate(['catalog', 'ls', `file(${dir})`, '--suffix', '.bin'])).stdout.toString()).toMatch(/^[0-9a-f]{64}\tfile\t/);
    expect((await laminate(['catalog', 'ls', `file(${dir})`, '--dataset', 'nope'])).stdout.toString()).toBe('');
  }, 120_000);
});
