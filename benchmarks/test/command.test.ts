/**
 * `npm run bench` for real, cut down to one laminate stack and one peer: the
 * command measures, checks what it read, and writes the page, its JSON and
 * its charts where --out says.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDirs } from '@laminate/core/testing';

const root = fileURLToPath(new URL('../..', import.meta.url));
const out = tempDirs('laminate-bench-report-', afterAll)();

describe('the benchmark command', () => {
  it('writes the page, the JSON and the charts from verified runs', () => {
    const args = ['--only', 'file,leveldb', '--workloads', 'a', '--no-python', '--no-shuffle', '--no-arrow', '--no-typed', '--no-compression', '--no-network', '--no-pool', '--dir', out, '--out', join(out, 'report.md')];
    const run = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', join('benchmarks', 'run.ts'), ...args], { cwd: root, encoding: 'utf8', timeout: 240_000 });
    expect(run.status, run.stderr).toBe(0);

    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    const file = json.laminate.file[0];
    const level = json.nodePeers.leveldb[0];
    for (const row of [file, level]) {
      expect(row.verified).toBe(true);
      expect(row.workload).toBe('a');
      expect(row.appendSeconds).toBeGreaterThan(0);
      expect(row.peakRss).toBeGreaterThan(10 * 2 ** 20);
      expect(row.peakRssExact).toBe(true);
      expect(row.diskBytes).toBeGreaterThan(0);
    }
    expect(json.quick).toBe(true);
    expect(json.memory.row.verified).toBe(true);
    expect(json.memory.samples.append.length).toBeGreaterThan(100);
    // The command's start-up rows ran the real command and checked what it printed.
    expect(json.startup.rows.map((r: { command: string }) => r.command)).toEqual(['node -e 0', 'laminate --help', 'laminate --version', "laminate keys 'file(DIR)'", "laminate --help (the repository's bin)"]);
    for (const row of json.startup.rows) {
      expect(row.verified, row.error).toBe(true);
      expect(row.medianMs).toBeGreaterThanOrEqual(row.minMs);
      expect(row.minMs).toBeGreaterThan(0);
    }
    const pair = json.versus.find((p: { peer: string }) => p.peer === 'LevelDB (classic-level)');
    expect(pair.append).toBeCloseTo(file.values / file.appendSeconds / (level.values / level.appendSeconds), 6);

    const page = readFileSync(join(out, 'report.md'), 'utf8');
    expect(page).toContain('### LevelDB (classic-level)');
    expect(page).toContain('## buffer(): memory budget against resident memory');
    expect(page).toContain('## Start-up of the laminate command');
    expect(page).toMatch(/Target: `laminate --help` under 5× `node -e 0`: \d+\.\d\d× \((met|NOT met)\)\./);
    expect(page).toContain('`npm run bench -- --only file,leveldb');
    const charts = readdirSync(join(out, 'report')).sort();
    expect(charts).toEqual(['append-100-B-values.svg', 'buffer-rss.svg', 'get-100-B-values.svg']);
    for (const name of charts) {
      expect(page).toContain(`(report/${name})`);
      const svg = readFileSync(join(out, 'report', name), 'utf8');
      expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      // Every chart says when, in which mode and on what it was measured.
      expect(svg).toContain(json.date);
      expect(svg).toContain('quick mode');
      expect(svg).toContain(`Node ${json.machine.node}`);
    }
    // The value-size charts draw dd in blocks of the value size (100 B), not 1 MiB blocks.
    const append = readFileSync(join(out, 'report', 'append-100-B-values.svg'), 'utf8');
    expect(append).toContain('data-row="dd if=/dev/zero of=… bs=100 count=');
    expect(append).not.toContain('bs=1M');
    // The JSON holds the whole run: drawing the page again from it gives the same page and charts.
    const again = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', join('benchmarks', 'run.ts'), '--render', join(out, 'report.json'), '--out', join(out, 'again.md')], { cwd: root, encoding: 'utf8' });
    expect(again.status, again.stderr).toBe(0);
    expect(readFileSync(join(out, 'again.md'), 'utf8')).toBe(page.replaceAll('(report/', '(again/'));
    for (const name of charts) expect(readFileSync(join(out, 'again', name), 'utf8')).toBe(readFileSync(join(out, 'report', name), 'utf8'));
    // The scratch stores are gone once the command ends.
    expect(readdirSync(out).filter((name) => name.startsWith('laminate-bench-'))).toEqual([]);
    expect(existsSync(join(out, 'report.json'))).toBe(true);
  }, 300_000);
});
