// Start-up of the `laminate` command against bare Node: `node -e 0`, then the
// command's own entry (dist/main.js, which the installed bin imports after one
// existsSync) for --help, --version and `keys` on a small file() store, and
// the repository's bin, which also checks whether dist/ is stale. Every
// command runs `runs` times, interleaved, each a process of its own; the page
// gives the median and the fastest run, and each command's median over bare
// Node's. Target: `laminate --help` under 5× `node -e 0`.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { file } from 'laminate';

const root = fileURLToPath(new URL('..', import.meta.url));
const main = join(root, 'packages/cli/dist/main.js');
const bin = join(root, 'packages/laminate/bin/laminate.mjs');

export interface StartupRow {
  command: string;
  medianMs: number;
  minMs: number;
  verified: boolean;
  error?: string;
}

export interface StartupResults {
  runs: number;
  rows: StartupRow[];
}

export async function startupBench(dir: string, opts: { quick: boolean; repeat: number }): Promise<StartupResults> {
  const store = join(dir, 'startup-store');
  const s = file(store);
  await s.append({ alpha: Buffer.from('a'), beta: Buffer.from('b') });
  await s.close();
  const commands: { command: string; argv: string[]; expect: (out: string) => boolean }[] = [
    { command: 'node -e 0', argv: ['-e', '0'], expect: (out) => out === '' },
    { command: 'laminate --help', argv: [main, '--help'], expect: (out) => out.startsWith('laminate ') },
    { command: 'laminate --version', argv: [main, '--version'], expect: (out) => /^laminate \d/.test(out) },
    { command: "laminate keys 'file(DIR)'", argv: [main, 'keys', `file(${store})`], expect: (out) => out === 'alpha\nbeta\n' },
    { command: "laminate --help (the repository's bin)", argv: [bin, '--help'], expect: (out) => out.startsWith('laminate ') },
  ];
  const runs = opts.quick ? 10 : 30;
  const times = commands.map(() => [] as number[]);
  const errors: (string | undefined)[] = commands.map(() => undefined);
  // One warm-up each (the page cache, a stale dist/ rebuilt by the repository's bin), then interleaved runs.
  for (let round = -1; round < runs; round++) {
    commands.forEach((c, i) => {
      const started = performance.now();
      const run = spawnSync(process.execPath, c.argv, { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
      const ms = performance.now() - started;
      if (run.status !== 0 || !c.expect(run.stdout)) errors[i] ??= `exit ${run.status}: ${(run.stderr || run.stdout).trim().split('\n')[0]}`;
      else if (round >= 0) times[i].push(ms);
    });
  }
  return {
    runs,
    rows: commands.map((c, i) => {
      const sorted = times[i].sort((a, b) => a - b);
      return { command: c.command, medianMs: sorted[sorted.length >> 1] ?? 0, minMs: sorted[0] ?? 0, verified: errors[i] === undefined, ...(errors[i] ? { error: errors[i] } : {}) };
    }),
  };
}

export function startupMarkdown(r: StartupResults): string {
  const bare = r.rows[0];
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const out = [
    '## Start-up of the laminate command',
    '',
    `Each command ${r.runs} times, interleaved, each run a process of its own, timed from spawn to exit. \`laminate\` here is \`node packages/cli/dist/main.js\`, which the installed bin imports after one \`existsSync\`; the repository's bin also checks that dist/ is newer than the sources. Arrow, the bzip2 decoder and the network code are loaded only by commands whose store names them.`,
    '',
    line(['command', 'median ms', 'fastest ms', 'median vs node -e 0']),
    line([':--', '--:', '--:', '--:']),
  ];
  for (const row of r.rows) {
    if (!row.verified) out.push(line([row.command, `FAILED: ${row.error}`, '', '']));
    else out.push(line([row.command, row.medianMs.toFixed(0), row.minMs.toFixed(0), `${(row.medianMs / bare.medianMs).toFixed(2)}×`]));
  }
  const help = r.rows.find((row) => row.command === 'laminate --help');
  if (bare?.verified && help?.verified) {
    const x = help.medianMs / bare.medianMs;
    out.push('', `Target: \`laminate --help\` under 5× \`node -e 0\`: ${x.toFixed(2)}× (${x < 5 ? 'met' : 'NOT met'}).`);
  }
  return out.join('\n');
}
