/**
 * The `laminate` command, run for real: each test spawns the umbrella
 * package's bin with node (as `npx laminate` does, from sources, no build) and
 * checks what a user sees: stdout, stderr, the exit status and the files.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arrow } from '@laminate/arrow';
import { Datetime64Array, typedArrays } from '@laminate/codecs';
import { file, msgpack, zstd } from '@laminate/core';
import { tempDirs } from '@laminate/core/testing';
import { client } from '@laminate/net';
import { tableFromArrays } from 'apache-arrow';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../laminate/bin/laminate.mjs', import.meta.url));
const VERSION = '0.1.0';
const scratch = tempDirs('laminate-cli-', afterAll)();
let dirs = 0;
const newDir = (name = 'store') => join(scratch, `${name}-${++dirs}`);
/** A new empty directory: the read-only commands refuse one that does not exist. */
const madeDir = (name = 'store') => {
  const dir = newDir(name);
  mkdirSync(dir);
  return dir;
};

interface Result {
  code: number | null;
  stdout: Buffer;
  out: string;
  err: string;
}

function start(args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcessWithoutNullStreams {
  // No terminal anywhere (stdin, stdout, stderr are pipes), as in a script.
  return spawn(process.execPath, [BIN, ...args], { cwd: scratch, env: { ...process.env, ...env }, stdio: 'pipe' });
}

function laminate(args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  const child = start(args, opts.env);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  child.stdin.end(opts.input ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      const stdout = Buffer.concat(out);
      resolve({ code, stdout, out: stdout.toString('utf8'), err: Buffer.concat(err).toString('utf8') });
    });
  });
}

/** The files under `dir`, relative, without the store's own (names starting with "."). */
function dataFiles(dir: string, prefix = ''): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const path = prefix === '' ? entry.name : join(prefix, entry.name);
    if (entry.isDirectory()) found.push(...dataFiles(dir, path));
    else found.push(path);
  }
  return found;
}

/** Everything under `dir`, the store's own files too: each path with its content, or what it is. */
function everything(dir: string, prefix = ''): Record<string, string> {
  const found: Record<string, string> = {};
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const path = prefix === '' ? entry.name : join(prefix, entry.name);
    if (entry.isSymbolicLink()) found[path] = 'symlink';
    else if (entry.isDirectory()) Object.assign(found, { [path]: 'folder' }, everything(dir, path));
    else found[path] = readFileSync(join(dir, path), 'base64');
  }
  return found;
}

/** Starts a command and collects its output; `sees(text)` resolves once stderr holds `text`. */
function running(args: readonly string[]) {
  const child = start(args);
  let out = '';
  let err = '';
  const watchers: (() => void)[] = [];
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    for (const watch of watchers) watch();
  });
  child.stdin.end();
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const sees = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const watch = () => err.includes(text) && resolve();
      watchers.push(watch);
      watch();
      void exited.then(() => reject(new Error(`exited without writing ${JSON.stringify(text)} to stderr; it wrote ${JSON.stringify(err)}`)));
    });
  return { exited, sees, out: () => out, err: () => err };
}

async function bytesStore(entries: [string | string[], string | Buffer][][]): Promise<string> {
  const dir = newDir();
  const store = file(dir);
  for (const batch of entries) await store.append(batch.map(([key, value]) => [key, Buffer.from(value)] as const));
  await store.close();
  return dir;
}

describe('help and usage', () => {
  it('--help lists every command, with the SPEC and KEY syntax and the exit codes', async () => {
    const { code, out, err } = await laminate(['--help']);
    expect(code).toBe(0);
    expect(err).toBe('');
    for (const command of ['keys', 'cat', 'du', 'drop', 'serve', 'help']) expect(out).toMatch(new RegExp(`^  ${command} `, 'm'));
    expect(out).toContain('SPEC is the short form');
    expect(out).toContain('Exit status');
  });

  it('help COMMAND and COMMAND --help show the same usage, options and examples', async () => {
    const a = await laminate(['help', 'cat']);
    const b = await laminate(['cat', '--help']);
    const c = await laminate(['cat', '-h']);
    expect(a.code).toBe(0);
    expect(b.out).toBe(a.out);
    expect(c.out).toBe(a.out);
    expect(a.out).toMatch(/^Usage: laminate cat SPEC KEY/);
    expect(a.out).toContain('--progress');
    expect(a.out).toContain('Examples:');
    for (const command of ['keys', 'du', 'drop', 'serve']) {
      const help = await laminate([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.out).toContain(`Usage: laminate ${command}`);
    }
  });

  it('--version prints the version', async () => {
    const { code, out } = await laminate(['--version']);
    expect(code).toBe(0);
    expect(out).toBe(`laminate ${VERSION}\n`);
  });

  it('an unknown command exits 2, suggests the near one and points to --help', async () => {
    const { code, out, err } = await laminate(['kyes', 'file(/tmp/x)']);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toContain('Unknown command "kyes". Did you mean keys?');
    expect(err).toContain('laminate --help');
  });

  it('no command prints the help on stderr and exits 2', async () => {
    const { code, out, err } = await laminate([]);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toContain('Usage: laminate COMMAND');
  });

  it('an unknown option, a missing argument or an extra one exits 2 with the command\'s --help', async () => {
    const unknown = await laminate(['keys', '--frobnicate', 'file(/tmp/x)']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('laminate keys has no option --frobnicate.');
    expect(unknown.err).toContain('laminate keys --help');
    const missing = await laminate(['cat', `file(${newDir()})`]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('cat needs SPEC and at least one KEY');
    const extra = await laminate(['du', `file(${newDir()})`, 'more']);
    expect(extra.code).toBe(2);
    expect(extra.err).toContain('"more"');
    const serveless = await laminate(['serve']);
    expect(serveless.code).toBe(2);
    expect(serveless.err).toContain('serve needs --store SPEC');
  });

  it('a bad option is one sentence that names it once, then the pointer to the command\'s --help', async () => {
    const cases: [string[], string, string][] = [
      [['keys', '--bogus', 'X'], '--bogus', 'laminate keys has no option --bogus.'],
      [['keys', '--jsn', 'X'], '--jsn', 'laminate keys has no option --jsn; did you mean --json?'],
      [['cat', '-z'], '-z', 'laminate cat has no option -z; a KEY that starts with - goes after --.'],
      [['du', '-Hz', 'X'], '-z', 'laminate du has no option -z (in -Hz).'],
      [['keys', '--json=3', 'X'], '--json', 'Option --json takes no value, and was given "3".'],
      [['serve', '--store'], '--store', 'Option --store needs SPEC after it, and none was given.'],
      [['serve', '--store', '--listen', 'tcp://127.0.0.1:0'], '--store', 'Option --store needs SPEC after it, and was followed by --listen; a value that starts with - goes after an equals sign.'],
    ];
    for (const [args, option, message] of cases) {
      const { code, out, err } = await laminate(args);
      expect(code, args.join(' ')).toBe(2);
      expect(out).toBe('');
      expect(err).toBe(`laminate: ERR_INVALID_OPTION: ${message}\nRun "laminate ${args[0]} --help" for usage.\n`);
      expect(err.split(option).length - 1, err).toBe(1);
    }
    // A KEY that starts with - still reads after --, and a value that starts with - after =.
    const dir = await bytesStore([[['-odd', 'dash']]]);
    expect((await laminate(['cat', `file(${dir})`, '--', '-odd'])).out).toBe('dash');
  });

  it('a spec that does not parse, or names no layer, exits 2 with the problem', async () => {
    const broken = await laminate(['keys', 'file(/tmp/x']);
    expect(broken.code).toBe(2);
    expect(broken.err).toContain('laminate: ERR_INVALID_SPEC: Cannot read the store spec "file(/tmp/x"');
    expect(broken.err).toContain('laminate keys --help');
    const unknown = await laminate(['du', 'nosuchlayer(file(/tmp/x))']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('Unknown layer "nosuchlayer"');
    const badOption = await laminate(['keys', `buffer(dict, file(${madeDir()}), availableMemory=lots)`]);
    expect(badOption.code).toBe(2);
    expect(badOption.err).toContain('laminate: ERR_INVALID_OPTION:');
  });

  it('a LaminateError from the store exits 1 with its code', async () => {
    const dir = newDir();
    const store = msgpack(file(dir));
    await store.append({ k: [1, 2] });
    await store.close();
    // A frame whose header promises more bytes than the file holds.
    writeFileSync(join(dir, 'k'), Buffer.from([200, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]));
    const { code, out, err } = await laminate(['cat', `msgpack(file(${dir}))`, 'k']);
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toMatch(/^laminate: ERR_CORRUPT_FRAME: /);
    expect(err).not.toContain('--help');
  });
});

describe('keys', () => {
  it('lists the keys of a file() directory, sorted, one per line, tuples as JSON arrays', async () => {
    const dir = await bytesStore([[['b', 'x'], ['a', 'y'], [['day', '7'], 'z'], ['with space', 'w']], [['a', 'more']]]);
    const { code, out, err } = await laminate(['keys', `file(${dir})`]);
    expect(code).toBe(0);
    expect(err).toBe('');
    expect(out).toBe('["day","7"]\na\nb\nwith space\n');
  });

  it('keeps keys that a line cannot hold unambiguous, and every printed line reads back with cat', async () => {
    const odd = ['two\nlines', '[not a tuple', '"quoted', '', ' padded', 'tab\tin'];
    const dir = await bytesStore([odd.map((key, i) => [key, `value ${i}`])]);
    const { out } = await laminate(['keys', `file(${dir})`]);
    const lines = out.split('\n').slice(0, -1);
    expect(lines).toHaveLength(odd.length);
    expect(lines.map((line) => JSON.parse(line)).sort()).toEqual([...odd].sort());
    for (const line of lines) {
      const read = await laminate(['cat', `file(${dir})`, line]);
      expect(read.out).toBe(`value ${odd.indexOf(JSON.parse(line))}`);
    }
    const json = await laminate(['keys', '--json', `file(${dir})`]);
    expect(json.out.split('\n').slice(0, -1).map((line) => JSON.parse(line)).sort()).toEqual([...odd].sort());
  });

  it('--json prints every key as JSON', async () => {
    const dir = await bytesStore([[['a', '1'], [['t', '1'], '2']]]);
    const { out } = await laminate(['keys', '--json', `file(${dir})`]);
    expect(out).toBe('"a"\n["t","1"]\n');
  });

  it('an empty directory lists nothing and exits 0', async () => {
    const { code, out } = await laminate(['keys', `file(${madeDir()})`]);
    expect(code).toBe(0);
    expect(out).toBe('');
  });
});

describe('cat', () => {
  it('writes the bytes appended, byte for byte, including a 1 MB binary value', async () => {
    const big = randomBytes(1 << 20);
    const head = randomBytes(1000);
    const dir = newDir();
    const store = file(dir);
    await store.append({ blob: head, small: Buffer.from([0, 255, 10, 13, 0]) });
    await store.append({ blob: big });
    await store.close();
    const { code, stdout, err } = await laminate(['cat', `file(${dir})`, 'blob']);
    expect(code).toBe(0);
    expect(err).toBe('');
    expect(stdout.equals(Buffer.concat([head, big]))).toBe(true);
    const two = await laminate(['cat', `file(${dir})`, 'small', 'small']);
    expect([...two.stdout]).toEqual([0, 255, 10, 13, 0, 0, 255, 10, 13, 0]);
  });

  it('decompresses a compressed bytes stack, and reads tuple keys written as JSON arrays', async () => {
    const dir = newDir();
    const store = zstd(file(dir));
    await store.append([[['day', 7], Buffer.from('first,')]]);
    await store.append([[['day', 7], Buffer.from('second')]]);
    await store.close();
    const { code, out } = await laminate(['cat', `zstd(file(${dir}))`, '["day",7]']);
    expect(code).toBe(0);
    expect(out).toBe('first,second');
  });

  it('prints a msgpack store as one JSON line per record, in append order', async () => {
    const dir = newDir();
    const store = msgpack(zstd(file(dir)));
    await store.append({ users: [{ id: 1, name: 'ada' }, { id: 2, name: 'bob' }] });
    await store.append({ users: [{ id: 3, name: 'eve', big: 2n ** 60n, raw: Buffer.from('hi'), nan: NaN }] });
    await store.close();
    const { code, out } = await laminate(['cat', `msgpack(zstd(file(${dir})))`, 'users']);
    expect(code).toBe(0);
    expect(out).toBe(['{"id":1,"name":"ada"}', '{"id":2,"name":"bob"}', '{"id":3,"name":"eve","big":1152921504606846976,"raw":{"$base64":"aGk="},"nan":"NaN"}', ''].join('\n'));
  });

  it('prints typed arrays one element per line, and Arrow tables one row per line', async () => {
    const dir = newDir();
    const arrays = typedArrays(file(dir));
    await arrays.append({ x: new Float64Array([1.5, -2]), n: new BigInt64Array([2n ** 62n]), t: Datetime64Array.fromDates([new Date(Date.UTC(2024, 0, 1)), null], 's') });
    await arrays.append({ x: new Float64Array([Infinity]) });
    await arrays.close();
    const typed = await laminate(['cat', `typedArrays(file(${dir}))`, 'x', 'n', 't']);
    expect(typed.code).toBe(0);
    expect(typed.out).toBe(['1.5', '-2', '"Infinity"', String(2n ** 62n), '"2024-01-01T00:00:00.000Z"', 'null', ''].join('\n'));

    const tables = newDir();
    const store = arrow(file(tables));
    await store.append({ k: tableFromArrays({ id: Int32Array.from([1, 2]), name: ['a', 'b'] }) });
    await store.append({ k: tableFromArrays({ id: Int32Array.from([3]), name: ['c'] }) });
    await store.close();
    const rows = await laminate(['cat', `arrow(file(${tables}))`, 'k']);
    expect(rows.code).toBe(0);
    expect(rows.out).toBe('{"id":1,"name":"a"}\n{"id":2,"name":"b"}\n{"id":3,"name":"c"}\n');
  });

  it('a key never written prints nothing; a key that is bad JSON is a usage error', async () => {
    const dir = await bytesStore([[['a', 'x']]]);
    const missing = await laminate(['cat', `file(${dir})`, 'nope']);
    expect(missing.code).toBe(0);
    expect(missing.out).toBe('');
    const bad = await laminate(['cat', `file(${dir})`, '["unclosed"']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('not valid JSON');
  });
});

describe('du', () => {
  it('prints the bytes of each key on disk, largest first, and a total that matches the files', async () => {
    const dir = newDir();
    const store = file(dir);
    await store.append({ small: Buffer.alloc(10), big: Buffer.alloc(5000), mid: Buffer.alloc(300) });
    await store.append([[['t', 'x'], Buffer.alloc(700)], ['small', Buffer.alloc(5)]]);
    await store.close();
    const { code, out, err } = await laminate(['du', `file(${dir})`]);
    expect(code).toBe(0);
    expect(err).toBe('');
    const size = (path: string) => statSync(join(dir, path)).size;
    expect(out).toBe(`5000\tbig\n700\t["t","x"]\n300\tmid\n15\tsmall\n6015\ttotal\n`);
    const files = dataFiles(dir);
    expect(files.reduce((sum, path) => sum + size(path), 0)).toBe(6015);
    expect(size('big')).toBe(5000);

    const json = await laminate(['du', '--json', `file(${dir})`]);
    expect(json.out.split('\n').slice(0, -1).map((line) => JSON.parse(line))).toEqual([
      { key: 'big', bytes: 5000 },
      { key: ['t', 'x'], bytes: 700 },
      { key: 'mid', bytes: 300 },
      { key: 'small', bytes: 15 },
      { total: 6015, keys: 4 },
    ]);
    const human = await laminate(['du', '-H', `file(${dir})`]);
    expect(human.out.split('\n')[0]).toBe('4.9 KiB\tbig');
  });

  it('counts compressed, framed bytes as stored, and a layer\'s sidecar files with their key', async () => {
    const dir = newDir();
    const store = msgpack(zstd(file(dir)));
    await store.append({ a: Array.from({ length: 1000 }, (_, i) => ({ i })), b: [1] });
    await store.close();
    const { out } = await laminate(['du', `msgpack(zstd(file(${dir})))`]);
    expect(out).toBe(`${statSync(join(dir, 'a')).size}\ta\n${statSync(join(dir, 'b')).size}\tb\n${statSync(join(dir, 'a')).size + statSync(join(dir, 'b')).size}\ttotal\n`);

    const typed = newDir();
    const arrays = typedArrays(file(typed));
    await arrays.append({ x: new Float64Array(100) });
    await arrays.close();
    const sized = await laminate(['du', `typedArrays(file(${typed}))`]);
    const onDisk = statSync(join(typed, 'x')).size + statSync(join(typed, 'x.dtype')).size;
    expect(sized.out).toBe(`${onDisk}\tx\n${onDisk}\ttotal\n`);
  });
});

describe('a store that is not there', () => {
  it('keys, cat and du exit 1 with ERR_NOT_FOUND naming the directory, and create nothing', async () => {
    const parent = newDir('absent');
    const cases: [string[], string][] = [
      [['keys', `file(${parent})`], parent],
      [['cat', `msgpack(zstd(file(${parent}/a/b)))`, 'k'], `${parent}/a/b`],
      [['du', `buffer(dict, file(${parent}/c), availableMemory=1MiB)`], `${parent}/c`],
    ];
    for (const [args, dir] of cases) {
      const { code, out, err } = await laminate(args);
      expect(code, args.join(' ')).toBe(1);
      expect(out).toBe('');
      expect(err).toBe(`laminate: ERR_NOT_FOUND: There is no store at ${dir}: the directory does not exist. Check the path in the SPEC; ${args[0]} reads an existing store and creates none.\n`);
    }
    expect(existsSync(parent)).toBe(false);
  });

  it('drop --yes of a directory that does not exist creates none', async () => {
    const dir = newDir('absent');
    const { code, err } = await laminate(['drop', '--yes', `file(${dir})`]);
    expect(code).toBe(1);
    expect(err).toBe(`laminate: ERR_NOT_FOUND: There is no store at ${dir}: the directory does not exist. Check the path in the SPEC; drop empties an existing store and creates none.\n`);
    expect(existsSync(dir)).toBe(false);
  });

  it('a file where the store\'s directory should be is ERR_NOT_A_STORE, and stays as it was', async () => {
    const path = join(madeDir(), 'plain.txt');
    writeFileSync(path, 'not a store');
    const { code, err } = await laminate(['keys', `file(${path})`]);
    expect(code).toBe(1);
    expect(err).toBe(`laminate: ERR_NOT_A_STORE: ${path} is a file, not a store: file(DIR) names the directory that holds a store's keys. Check the path in the SPEC.\n`);
    expect(readFileSync(path, 'utf8')).toBe('not a store');
  });

  it('keys, cat and du add no file to a directory they read (no lock left, no .laminate.gen)', async () => {
    // As Python partd or a copy leaves a store: key files and nothing of laminate's own.
    const dir = madeDir();
    writeFileSync(join(dir, 'a'), 'first');
    mkdirSync(join(dir, 't%d'));
    writeFileSync(join(dir, 't%d', 'x'), 'second');
    const before = everything(dir);
    expect((await laminate(['keys', `file(${dir})`])).out).toBe('["t","x"]\na\n');
    expect((await laminate(['cat', `file(${dir})`, 'a', '["t","x"]'])).out).toBe('firstsecond');
    expect((await laminate(['du', `file(${dir})`])).out).toBe('6\t["t","x"]\n5\ta\n11\ttotal\n');
    expect(everything(dir)).toEqual(before);
  });
});

describe('the directory lock', () => {
  /** Holds `dir`'s lock from this process, as another program inside withLock would, until release(). */
  async function holdLock(dir: string) {
    const store = file(dir);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const held = store.withLock(async () => {
      entered();
      await released;
    });
    await inside;
    return {
      release: async () => {
        release();
        await held;
        await store.close();
      },
    };
  }

  // The lock is held by this test's process, and its lock file says so.
  const notice = (dir: string, seconds: string) =>
    `laminate: ${dir} is locked by process ${process.pid} on ${hostname()}; waiting up to ${seconds} for it, then failing with ERR_LOCKED. Stop with Ctrl-C, or wait less with file(…, lockTimeoutMs=N) in the SPEC.\n`;

  it('a command that waits says which directory and how long at most, then fails with ERR_LOCKED once', async () => {
    const dir = await bytesStore([[['a', 'x']]]);
    const lock = await holdLock(dir);
    try {
      const started = Date.now();
      const { code, out, err } = await laminate(['keys', `file(${dir}, lockTimeoutMs=1500)`]);
      expect(code).toBe(1);
      expect(out).toBe('');
      expect(err).toBe(
        notice(dir, '1.5 s') +
          `laminate: ERR_LOCKED: The directory ${dir} stayed locked for lockTimeoutMs (1500 ms): another process holds it, perhaps as its single owner ({ exclusive: true }). Close that store, or raise lockTimeoutMs.\n`,
      );
      // It gave up after the timeout it announced, not after a second wait to close the store.
      expect(Date.now() - started).toBeLessThan(1500 * 2);
    } finally {
      await lock.release();
    }
  });

  it('once the other process lets go, the command goes on and finishes', async () => {
    const dir = await bytesStore([[['a', 'x'], ['b', 'y']]]);
    const lock = await holdLock(dir);
    const keys = running(['du', `file(${dir}, lockTimeoutMs=20000)`]);
    try {
      await keys.sees(notice(dir, '20 s'));
    } finally {
      await lock.release();
    }
    expect(await keys.exited).toBe(0);
    expect(keys.out()).toBe('1\ta\n1\tb\n2\ttotal\n');
    expect(keys.err()).toBe(notice(dir, '20 s'));
  });

  it('a writer that holds the lock for moments, again and again, is not announced', async () => {
    const dir = await bytesStore([[['a', 'x']]]);
    const writer = file(dir);
    let stop = false;
    // Held again and again, but never for long: each wait of the command's is far below the 250 ms
    // before a notice, with room for a loaded machine's delays.
    const busy = (async () => {
      while (!stop) {
        await writer.withLock(() => new Promise((resolve) => setTimeout(resolve, 10)));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    try {
      for (const args of [['keys', `file(${dir})`], ['cat', `file(${dir})`, 'a'], ['du', `file(${dir})`], ['keys', `file(${dir})`]]) {
        const { code, out, err } = await laminate(args);
        expect(code).toBe(0);
        expect(out).toBe({ keys: 'a\n', cat: 'x', du: '1\ta\n1\ttotal\n' }[args[0]]);
        expect(err, args[0]).toBe('');
      }
    } finally {
      stop = true;
      await busy;
      await writer.close();
    }
  });
});

describe('drop', () => {
  it('refuses without --yes when there is no terminal to ask on: exit 2, nothing deleted', async () => {
    const dir = await bytesStore([[['a', 'x'], ['b', 'y']]]);
    const { code, err } = await laminate(['drop', `file(${dir})`], { input: 'y\n' });
    expect(code).toBe(2);
    expect(err).toContain('Pass --yes');
    expect(dataFiles(dir).sort()).toEqual(['a', 'b']);
  });

  it('--yes empties the store: the files are gone, the directory stays usable', async () => {
    const dir = await bytesStore([[['a', 'x'], [['t', '1'], 'y']]]);
    const { code, out, err } = await laminate(['drop', '--yes', `file(${dir})`]);
    expect(code).toBe(0);
    expect(out).toBe('');
    expect(err).toContain('dropped 2 keys');
    expect(dataFiles(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(true);
    expect((await laminate(['keys', `file(${dir})`])).out).toBe('');
  });
});

describe('drop of a directory that is not a laminate store', () => {
  const refusal = (dir: string, why: string) =>
    `laminate: ERR_NOT_A_STORE: Refusing to drop ${dir}: ${why}, so it may not be a laminate store, and drop deletes every file there named like a key. Nothing was deleted. Check the path; if it is the store you mean, move out what laminate did not write, or delete the directory yourself.\n`;

  async function refused(dir: string, why: string) {
    const before = everything(dir);
    const { code, out, err } = await laminate(['drop', '--yes', `file(${dir})`]);
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toBe(refusal(dir, why));
    expect(everything(dir)).toEqual(before);
  }

  it('refuses a store holding a file laminate would not have written, and deletes nothing', async () => {
    const dir = await bytesStore([[['a', 'x'], [['t', '1'], 'y']]]);
    writeFileSync(join(dir, 'My Notes.txt'), 'mine');
    await refused(dir, 'it holds My Notes.txt, which file() does not write');
  });

  it('refuses a stray dotfile, a folder or a symlink, however deep', async () => {
    const dotfile = await bytesStore([[['a', 'x']]]);
    writeFileSync(join(dotfile, '.bashrc'), 'export X=1');
    await refused(dotfile, 'it holds .bashrc, which file() does not write');

    const folder = await bytesStore([[[['t', '1'], 'y']]]);
    mkdirSync(join(folder, 't%d', 'photos'));
    writeFileSync(join(folder, 't%d', 'photos', 'cat.jpg'), 'meow');
    await refused(folder, `it holds ${join('t%d', 'photos')}, which file() does not write`);

    const linked = await bytesStore([[['a', 'x']]]);
    symlinkSync(scratch, join(linked, 'elsewhere'));
    await refused(linked, 'it holds elsewhere, which file() does not write');
  });

  it('refuses files with names laminate uses when laminate never wrote there (no .laminate.gen)', async () => {
    const dir = madeDir('documents');
    writeFileSync(join(dir, 'report.pdf'), 'pdf');
    writeFileSync(join(dir, 'notes.txt'), 'text');
    await refused(dir, 'it has no .laminate.gen, which file() writes with a store\'s first change');
  });

  it('drops a store with every kind of file laminate writes: tuple folders, long-key sidecars, iset metadata', async () => {
    const dir = newDir();
    const store = file(dir);
    await store.append([['a', Buffer.from('x')], [['t', 'x'], Buffer.from('y')], ['k'.repeat(300), Buffer.from('long')], ['with space', Buffer.from('z')]]);
    await store.iset('meta', Buffer.from('m'));
    await store.delete(['a']);
    await store.close();
    const { code, err } = await laminate(['drop', '--yes', `file(${dir})`]);
    expect(err).toBe(`laminate: dropped 3 keys from file(${dir})\n`);
    expect(code).toBe(0);
    expect(dataFiles(dir)).toEqual([]);
    // An empty directory has nothing to lose: dropping it is fine.
    expect((await laminate(['drop', '--yes', `file(${madeDir()})`])).code).toBe(0);
  });
});

describe('progress', () => {
  it('--progress writes the progress line to stderr and never to stdout', async () => {
    const dir = newDir();
    const store = file(dir);
    await store.append(Array.from({ length: 300 }, (_, i) => [`key-${i}`, Buffer.alloc(i + 1)] as const));
    await store.close();
    const du = await laminate(['du', '--progress', `file(${dir})`]);
    expect(du.code).toBe(0);
    expect(du.err).toContain('laminate du: 300/300 stored keys');
    expect(du.out).not.toContain('laminate du');
    expect(du.out.split('\n')).toHaveLength(302);

    const keys = await laminate(['keys', '--progress', `file(${dir})`]);
    expect(keys.err).toContain('laminate keys: 300/300 keys');
    expect(keys.out.split('\n').slice(0, -1).every((line) => /^key-\d+$/.test(line))).toBe(true);

    const cat = await laminate(['cat', '--progress', `file(${dir})`, 'key-299']);
    expect(cat.err).toContain('laminate cat: key 1/1');
    expect(cat.stdout.equals(Buffer.alloc(300))).toBe(true);
  });

  it('shows nothing when stderr is not a terminal, or with --no-progress', async () => {
    const dir = await bytesStore([[['a', 'x']]]);
    expect((await laminate(['du', `file(${dir})`])).err).toBe('');
    expect((await laminate(['du', '--no-progress', `file(${dir})`])).err).toBe('');
    expect((await laminate(['du', '--progress', '--no-progress', `file(${dir})`])).code).toBe(2);
  });
});

describe('serve', () => {
  /** Starts `laminate serve`, resolves with the child and the address from its first line of stdout. */
  async function serving(args: string[], env: NodeJS.ProcessEnv = {}) {
    const child = start(['serve', ...args], env);
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
      });
      child.once('close', (code) => reject(new Error(`serve exited ${code} before listening: ${err}`)));
    });
    const address = /^laminate: serving .* on (\S+)$/.exec(line)?.[1];
    expect(address, line).toBeDefined();
    return { child, address: address!, line, exited, stderr: () => err };
  }

  it('serves a file() store over TCP; a client appends and reads; SIGTERM closes it with exit 0 and the data on disk', async () => {
    const dir = newDir();
    const server = await serving(['--store', `file(${dir})`, '--listen', 'tcp://127.0.0.1:0']);
    expect(server.line).toBe(`laminate: serving file(${dir}) on ${server.address}`);
    expect(server.address).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const remote = msgpack(client(server.address));
    await remote.append({ k: [{ n: 1 }] });
    await remote.append({ k: [{ n: 2 }], other: ['x'] });
    expect(await remote.get('k')).toEqual([{ n: 1 }, { n: 2 }]);
    await remote.close();

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.stderr()).toContain('closed');
    const local = msgpack(file(dir));
    expect(await local.get('k')).toEqual([{ n: 1 }, { n: 2 }]);
    expect((await local.keys()).sort()).toEqual(['k', 'other']);
    await local.close();
  });

  it('serves on a Unix socket (mode 0600) with a token from LAMINATE_TOKEN', async () => {
    const dir = newDir();
    const socket = join(scratch, `s-${process.pid}.sock`);
    const server = await serving(['--store', `zstd(file(${dir}))`, '--listen', `unix://${socket}`], { LAMINATE_TOKEN: 'open sesame' });
    expect(server.address).toBe(`unix://${socket}`);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    const remote = client(server.address, { token: 'open sesame' });
    await remote.append({ blob: Buffer.from('over the socket') });
    expect(Buffer.from(await remote.get('blob')).toString()).toBe('over the socket');
    await remote.close();
    const wrong = client(server.address, { token: 'wrong' });
    await expect(wrong.get('blob')).rejects.toMatchObject({ code: 'ERR_AUTH' });
    await wrong.close();
    server.child.kill('SIGINT');
    expect(await server.exited).toBe(0);
    expect((await laminate(['cat', `zstd(file(${dir}))`, 'blob'])).out).toBe('over the socket');
  });

  it('refuses an encoded store, a public address without a token, and a taken port', async () => {
    const encoded = await laminate(['serve', '--store', `msgpack(file(${newDir()}))`]);
    expect(encoded.code).toBe(2);
    expect(encoded.err).toContain('msgpack(client(ADDR))');
    const open = await laminate(['serve', '--store', `file(${newDir()})`, '--listen', 'tcp://0.0.0.0:0']);
    expect(open.code).toBe(2);
    // In the command's terms (its flags and variable), not the library's option names.
    expect(open.err).toBe(
      'laminate: ERR_INVALID_OPTION: Refusing to serve tcp://0.0.0.0:0 without a token: anyone who reaches that address could read and change the store. Set LAMINATE_TOKEN or pass --token (clients present the same token), or pass --insecure on a trusted network.\nRun "laminate serve --help" for usage.\n',
    );
    const size = await laminate(['serve', '--store', `file(${newDir()})`, '--max-message-bytes', 'huge']);
    expect(size.code).toBe(2);

    const first = await serving(['--store', `file(${newDir()})`]);
    const taken = await laminate(['serve', '--store', `file(${newDir()})`, '--listen', first.address]);
    expect(taken.code).toBe(1);
    expect(taken.err).toMatch(/^laminate: ERR_CONNECTION: /);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
  });
});
