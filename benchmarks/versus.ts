// laminate against each peer: every pairing of a laminate row with the peer
// row that did the same work in the same run, as ratios, and the list of
// places where laminate is behind.
import type { Measurement } from './measure.js';
import type { Results } from './report.js';

/** One laminate row beside one peer row that did the same work. */
export interface Pair {
  /** The peer's table: "LevelDB (classic-level)", "Python partd.File", "dd", … */
  peer: string;
  /** What was done: "(a) 100 B", "shuffle", "float64", … */
  work: string;
  mine: string;
  theirs: string;
  /** laminate's speed over the peer's (above 1 is faster), per phase; undefined when not measured. */
  append?: number;
  get?: number;
  /** Peak RSS in bytes, laminate's and the peer's. */
  rss?: [number | undefined, number | undefined];
  /** Bytes on disk, laminate's and the peer's. */
  disk?: [number | undefined, number | undefined];
  /** What the phases are, when not append and get ("8 clients append", "sample(64) p99"). */
  phases?: [string, string];
}

const VALUE_SIZE: Record<string, string> = { a: '(a) 100 B', b: '(b) 10 KB', c: '(c) 1 MB' };

/** laminate's rate over the peer's: values/s for throughput rows. */
function speedup(mine: Measurement | undefined, theirs: Measurement | undefined, phase: 'appendSeconds' | 'getSeconds'): number | undefined {
  if (!mine?.verified || !theirs?.verified || !(mine[phase] > 0) || !(theirs[phase] > 0)) return undefined;
  return mine.values / mine[phase] / (theirs.values / theirs[phase]);
}

function pair(peer: string, work: string, mine: Measurement | undefined, theirs: Measurement | undefined): Pair | undefined {
  if (!mine || !theirs) return undefined;
  return {
    peer,
    work,
    mine: mine.store,
    theirs: theirs.store,
    append: speedup(mine, theirs, 'appendSeconds'),
    get: speedup(mine, theirs, 'getSeconds'),
    rss: [mine.peakRss, theirs.peakRss],
    disk: [mine.diskBytes, theirs.diskBytes],
  };
}

function find(runs: Measurement[] | { error: string } | undefined, workload: string): Measurement | undefined {
  return Array.isArray(runs) ? runs.find((m) => m.workload === workload) : undefined;
}

/** Every pairing this run measured, grouped by peer in the order of the page. */
export function pairs(r: Results): Pair[] {
  const out: (Pair | undefined)[] = [];
  const lam = (stack: string, id: string) => find(r.laminate.get(stack), id);
  for (const [name, runs] of r.nodePeers) {
    const label = runs[0]?.store ?? name;
    for (const w of r.workloads) out.push(pair(label, VALUE_SIZE[w.id] ?? w.id, lam('file', w.id), find(runs, w.id)));
    const shuffled = r.shuffle.find((m) => m.store.startsWith(label));
    out.push(pair(label, 'shuffle demo', r.shuffle.find((m) => m.store.startsWith('msgpack(')), shuffled));
  }
  const partd: [string, string, string][] = [
    ['File', 'file', 'Python partd.File'],
    ['Buffer', 'buffer', 'Python partd.Buffer'],
    ['ZLib', 'zlib', 'Python partd.ZLib'],
  ];
  for (const [stack, mine, title] of partd) {
    for (const w of r.workloads) out.push(pair(title, VALUE_SIZE[w.id] ?? w.id, lam(mine, w.id), find(r.peers.get(stack as never), w.id)));
  }
  const partdRows = (runs: Measurement[] | undefined) => (runs ?? []).filter((m) => m.store.startsWith('partd'));
  if (r.typed) {
    for (const m of r.typed.runs.filter((x) => !x.store.startsWith('partd'))) {
      const peer = partdRows(r.typed.runs).find((p) => p.workload === m.workload && p.store.includes('Buffer') === m.store.includes('buffer'));
      out.push(pair('Python partd.Numpy', `typed ${m.workload}`, m, peer));
    }
  }
  if (r.arrow) {
    for (const m of r.arrow.runs.filter((x) => !x.store.startsWith('partd'))) {
      const peer = partdRows(r.arrow.runs).find((p) => p.store.includes('Buffer') === m.store.includes('buffer'));
      out.push(pair('Python partd.PandasBlocks', 'Arrow tables', m, peer));
    }
  }
  if (r.network) {
    for (const producers of [1, 4, 8]) {
      const mine = r.network.rows.find((x) => x.kind === 'laminate' && x.producers === producers && x.verified);
      const theirs = r.network.rows.find((x) => x.kind === 'partd' && x.producers === producers && x.verified);
      if (mine && theirs) {
        out.push({
          peer: 'Python partd zmq server',
          work: `${producers} client${producers > 1 ? 's' : ''}, 10 KB`,
          mine: mine.label,
          theirs: theirs.label,
          append: mine.bytes / mine.seconds / (theirs.bytes / theirs.seconds),
          rss: [mine.peakRss, theirs.peakRss],
          disk: [mine.diskBytes, theirs.diskBytes],
        });
      }
    }
  }
  const c = lam('file', 'c');
  const rate = (d: { bytes: number; seconds: number; error?: string }) => (d.error || !(d.seconds > 0) ? undefined : d.bytes / d.seconds);
  if (c?.verified) {
    const write = rate(r.dd.cache);
    const read = r.dd.read && rate(r.dd.read);
    out.push({ peer: 'dd (the limit)', work: '(c) 1 MB', mine: c.store, theirs: `${r.dd.cache.label}; ${r.dd.read?.label ?? 'no read'}`, append: write && c.bytes / c.appendSeconds / write, get: read ? c.bytes / c.getSeconds / read : undefined });
  }
  if (r.pool) {
    const [pool, base] = r.pool.rows;
    if (pool?.verified && base?.verified) {
      out.push({
        peer: 'One Arrow IPC file per episode',
        work: `${r.pool.shape.episodes.toLocaleString('en-US')} episodes`,
        mine: 'EpisodePool',
        theirs: base.store.replace(/^baseline: /, ''),
        append: base.storeSeconds / pool.storeSeconds,
        get: base.sampleMs.p99 / pool.sampleMs.p99,
        rss: [pool.peakRss, base.peakRss],
        disk: [pool.diskBytes, base.diskBytes],
        phases: ['store', 'sample(64) p99'],
      });
    }
  }
  return out.filter((p): p is Pair => p !== undefined);
}

function times(x: number | undefined): string {
  if (x === undefined) return '—';
  return `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}×`;
}

function mbOf(n: number | undefined): string {
  return n === undefined ? '—' : `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 1)}`;
}

function both(xs: [number | undefined, number | undefined] | undefined): string {
  return xs && (xs[0] !== undefined || xs[1] !== undefined) ? `${mbOf(xs[0])} / ${mbOf(xs[1])}` : '—';
}

/** One markdown table per peer: laminate's speed over the peer's, memory and disk side by side. */
export function peerTables(ps: Pair[], table: (head: string[], rows: string[][]) => string): string[] {
  const out: string[] = [];
  for (const peer of [...new Set(ps.map((p) => p.peer))]) {
    const mine = ps.filter((p) => p.peer === peer);
    const [first, second] = mine[0].phases ?? ['append', 'get'];
    out.push(
      `### ${peer}`,
      '',
      table(
        ['work', 'laminate', 'peer', `${first} ×`, `${second} ×`, 'peak RSS MB (laminate / peer)', 'on disk MB (laminate / peer)'],
        mine.map((p) => [p.work, p.mine, p.theirs, times(p.append), times(p.get), both(p.rss), both(p.disk)]),
      ),
      '',
    );
  }
  return out;
}

/** How many phases the pairings compare (append and get count apart). */
export function phases(ps: Pair[]): number {
  return ps.reduce((n, p) => n + (p.append === undefined ? 0 : 1) + (p.get === undefined ? 0 : 1), 0);
}

/** Where laminate is slower than a peer (by more than rounding: below 0.995×). */
export function trails(ps: Pair[]): { peer: string; work: string; phase: string; ratio: number }[] {
  const out: { peer: string; work: string; phase: string; ratio: number }[] = [];
  for (const p of ps) {
    const [first, second] = p.phases ?? ['append', 'get'];
    if (p.append !== undefined && p.append < 0.995) out.push({ peer: p.peer, work: `${p.work} (${p.mine})`, phase: first, ratio: p.append });
    if (p.get !== undefined && p.get < 0.995) out.push({ peer: p.peer, work: `${p.work} (${p.mine})`, phase: second, ratio: p.get });
  }
  return out;
}
