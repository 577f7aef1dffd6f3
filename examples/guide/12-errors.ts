import { buffer, dict, file, isLaminateError, LaminateError, msgpack, zlib } from 'laminate';

// Every error laminate throws on purpose is a LaminateError with a stable code.
// A bad key or a value of the wrong type is a TypeError too, thrown before
// anything of the call is stored.
const store = msgpack(dict());
const attempts: [string, () => Promise<unknown>][] = [
  ['bad key', () => store.get([] as never)],
  ['wrong value', () => store.append({ a: 'not an array' as never })],
  ['unencodable value', () => store.append({ a: [Symbol('x')] })],
  ['bad option', async () => zlib(dict(), { level: 12 })],
  ['missing option', async () => buffer(dict(), dict(), {} as never)],
  ['locked', async () => {
    const owner = file(undefined, { exclusive: true });
    try {
      return file(owner.path, { exclusive: true });
    } finally {
      await owner.close();
    }
  }],
  ['closed', async () => {
    const closed = dict();
    await closed.close();
    return closed.keys();
  }],
  ['directory removed', async () => {
    const owner = file(); // closing a temporary store removes its directory
    const other = file(owner.path);
    await owner.close();
    try {
      return await other.keys();
    } finally {
      await other.close();
    }
  }],
];
for (const [what, attempt] of attempts) {
  try {
    await attempt();
    console.log(what, '→ no error?');
  } catch (error) {
    if (!(error instanceof LaminateError)) throw error;
    console.log(`${what.padEnd(18)} ${error.code.padEnd(19)} TypeError: ${error instanceof TypeError}`);
  }
}

// isLaminateError(error, code) checks both at once and narrows the type.
try {
  await store.append({ b: 42 as never });
} catch (error) {
  if (isLaminateError(error, 'ERR_VALUE_TYPE')) console.log(error.key, '→', error.message);
}
