// @laminate/cli: the `laminate` command, also callable in-process.
export { run, COMMANDS, VERSION } from './cli.js';
export type { Io } from './io.js';
export { parseKey, formatKey } from './keys.js';
