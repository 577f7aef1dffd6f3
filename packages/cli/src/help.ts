import type { Command, OptionSpec } from './command.js';
import { HELP_OPTION } from './command.js';

export const SPEC_HELP = [
  'SPEC is the short form of a store stack, as open() reads it: layers nested in parentheses,',
  'options as name=value (sizes may carry a unit: 64MiB, 2GB), quotes around values with',
  'commas, parentheses or spaces. Quote the whole SPEC for the shell:',
  "  'file(/data/x)'   'msgpack(lz4(buffer(dict, file(/data/x), availableMemory=64MiB)))'",
  "  'zstd(client(tcp://10.0.0.5:7070))'   'arrow(file(\"/data/my tables\"))'",
].join('\n');

export const KEY_HELP = [
  'KEY is the key as written; an argument that starts with [ is a tuple key as a JSON array',
  `('["2024-01-01",7]'), one that starts with " is a string key as JSON ('"[literal"').`,
].join('\n');

export const EXIT_HELP = [
  'Exit status: 0 done; 1 the store failed (the message names its code: laminate: ERR_LOCKED: …);',
  '2 the command line is wrong (unknown command or option, missing argument, bad SPEC or KEY).',
].join('\n');

export function mainHelp(commands: readonly Command[], version: string): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `laminate ${version}: look into and share laminate stores from the shell`,
    '',
    'Usage: laminate COMMAND [options] [arguments]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${'help'.padEnd(width)}  help COMMAND shows a command's options and examples`,
    '',
    'Options: -h, --help  show help (after a command: its help) · -V, --version  show the version',
    '',
    SPEC_HELP,
    '',
    KEY_HELP,
    '',
    'keys, cat, du and drop show a progress line on stderr when it is a terminal and the command',
    'runs long; --progress forces it, --no-progress hides it. Data only ever goes to stdout.',
    '',
    EXIT_HELP,
    '',
    'Examples:',
    "  laminate keys 'file(/data/shuffle)'",
    "  laminate cat 'msgpack(lz4(file(/data/shuffle)))' part-7",
    "  laminate du -H 'file(/data/shuffle)'",
    "  laminate serve --store 'file(/data/shuffle)' --listen tcp://127.0.0.1:7070",
    '',
  ].join('\n');
}

export function commandHelp(command: Command): string {
  const options = Object.entries({ ...command.options, ...HELP_OPTION });
  const flag = (name: string, spec: OptionSpec) => `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`;
  const width = Math.max(...options.map(([name, spec]) => flag(name, spec).length));
  return [
    `Usage: ${command.usage.map((u) => `laminate ${u}`).join('\n       ')}`,
    '',
    command.summary[0].toUpperCase() + command.summary.slice(1) + '.',
    '',
    command.description,
    '',
    'Options:',
    ...options.map(([name, spec]) => `  ${flag(name, spec).padEnd(width)}  ${spec.help}`),
    '',
    SPEC_HELP,
    ...(command.name === 'cat' ? ['', KEY_HELP] : []),
    '',
    EXIT_HELP,
    '',
    'Examples:',
    ...command.examples.map((e) => `  ${e}`),
    '',
  ].join('\n');
}
