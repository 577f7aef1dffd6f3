#!/usr/bin/python3
"""The Python partd peer: the same workloads, the same bytes, the same checks.

run.ts starts this once per partd stack with Debian's /usr/bin/python3:

    partd_bench.py info
    partd_bench.py costs <dir>
    partd_bench.py <File|Buffer|ZLib> <bench dir> <config.json> <repeat>
    partd_bench.py pandas <bench dir> <keys> <calls> <rows> <repeat>   (arrow.ts's peer)
    partd_bench.py numpy <dir> <config.json> <repeat>                   (typed-arrays.ts's peer)

and reads one JSON document from stdout. config.json holds the workloads and
the per-key length and CRC-32 that workloads.ts computed; the value -> key
assignment below is the formula of forEachValue() in workloads.ts.
"""
import json
import os
import resource
import shutil
import sys
import time
import zlib

try:
    import partd
except ImportError as error:  # run.ts prints what to install
    print(json.dumps({'error': 'not installed: %s' % error}))
    sys.exit(0)

MIB = 2 ** 20
STACKS = {
    'File': ('partd.File()', lambda d: partd.File(d), True),
    'Buffer': ('partd.Buffer(partd.Dict(), partd.File(), 64 MiB)',
               lambda d: partd.Buffer(partd.Dict(), partd.File(d), available_memory=64 * MIB), False),
    'ZLib': ('partd.ZLib(partd.File())', lambda d: partd.ZLib(partd.File(d)), True),
}


def best(kept, r):
    """The faster of two verified runs, phase by phase; a failed run wins, so its error is shown."""
    if kept is None or (kept['verified'] and not r['verified']):
        return r
    if kept['verified'] and r['verified']:
        kept['appendSeconds'] = min(kept['appendSeconds'], r['appendSeconds'])
        kept['getSeconds'] = min(kept['getSeconds'], r['getSeconds'])
        kept['peakRss'] = max(kept.get('peakRss', 0), r.get('peakRss', 0))
    return kept


def key_name(k):
    return 'k%04d' % k


def values(w, corpus_bytes, stride, c):
    """(key index, corpus offset) of each value of append call c, in order."""
    for i in range(w['keysPerCall']):
        j = c * w['keysPerCall'] + i
        yield j % w['keys'], (j * stride) % (corpus_bytes - w['valueBytes'])


def disk_usage(path):
    total = 0
    for base, _, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(base, name))
    return total


def expected_bytes(w, corpus, stride, k):
    parts = []
    for c in range(w['calls']):
        for key, offset in values(w, len(corpus), stride, c):
            if key == k:
                parts.append(corpus[offset:offset + w['valueBytes']])
    return parts


def is_rotation(got, parts):
    """True when got is the key's values from some value on, then the ones before it."""
    whole = b''.join(parts)
    if len(got) != len(whole):
        return False
    cut = 0
    for part in parts:
        cut += len(part)
        if got == whole[cut:] + whole[:cut]:
            return True
    return False



ROTATED = 'rotated'


def disk_of_file_stack(r, label, path):
    """An after_appends that records the bytes on disk, unless the stack buffers part of its data in memory."""
    def measure():
        if 'Buffer' not in label:
            r['diskBytes'] = disk_usage(path)
    return measure


def append_then_get(r, store, path, calls, batch, keys, check, after_appends=None):
    """The measurement every partd row makes: `calls` timed appends of
    batch(c), then one timed get per key of `keys`, each checked by
    check(got, k): None when right, ROTATED when partd.Buffer returned the
    in-memory part before the spilled part (every value there), else what is
    wrong. Fills r (with the largest RSS seen after any call), then drops the
    store and removes path."""
    peak = 0
    try:
        for c in range(calls):
            b = batch(c)
            t0 = time.perf_counter()
            store.append(b)
            r['appendSeconds'] += time.perf_counter() - t0
            peak = max(peak, rss())
        if after_appends:
            after_appends()
        wrong, rotated = [], 0
        for k, key in enumerate(keys):
            t0 = time.perf_counter()
            got = store.get(key)
            r['getSeconds'] += time.perf_counter() - t0
            peak = max(peak, rss())
            why = check(got, k)
            if why is ROTATED:
                rotated += 1
            elif why is not None:
                wrong.append('%s (%s)' % (key, why))
        if wrong:
            r['error'] = '%d keys read back wrong: %s' % (len(wrong), ', '.join(wrong[:3]))
        else:
            r['verified'] = True
            if rotated:
                r['note'] = ('%d of %d keys came back with the in-memory part before the spilled part '
                             '(partd Buffer\'s order); counted as verified because the values are all there' % (rotated, len(keys)))
    except Exception as error:  # reported in the table, never silently
        r['error'] = 'failed: %r' % (error,)
    finally:
        store.drop()
        shutil.rmtree(path, ignore_errors=True)
    r['peakRss'] = max(r.get('peakRss', 0), peak)
    return r


PAGE = os.sysconf('SC_PAGE_SIZE')


def rss():
    """Resident bytes of this process now (the second field of /proc/self/statm, in pages)."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * PAGE


def run(name, w, corpus, stride, want, path):
    label, make, on_disk = STACKS[name]
    result = {'store': label, 'workload': w['id'], 'values': w['calls'] * w['keysPerCall'],
              'bytes': w['calls'] * w['keysPerCall'] * w['valueBytes'],
              'appendSeconds': 0.0, 'getSeconds': 0.0, 'verified': False}
    shutil.rmtree(path, ignore_errors=True)
    n = len(corpus)
    vb = w['valueBytes']

    def check(got, k):
        if len(got) == want['lengths'][k] and zlib.crc32(got) == want['crcs'][k]:
            return None
        if name == 'Buffer' and is_rotation(got, expected_bytes(w, corpus, stride, k)):
            return ROTATED
        return '%d bytes, expected %d' % (len(got), want['lengths'][k])

    def measure_disk():
        if on_disk:
            result['diskBytes'] = disk_usage(path)

    return append_then_get(result, make(path), path, w['calls'],
                           lambda c: {key_name(k): corpus[o:o + vb] for k, o in values(w, n, stride, c)},
                           [key_name(k) for k in range(w['keys'])], check, measure_disk)


def costs(path, n=2000):
    """Microseconds for one acquire + release of partd.File's lock (locket), and
    for one zlib.decompress of a 100-byte value (partd.ZLib's get, per value)."""
    os.makedirs(path, exist_ok=True)
    store = partd.File(path)
    for _ in range(50):
        store.lock.acquire()
        store.lock.release()
    t0 = time.perf_counter()
    for _ in range(n):
        store.lock.acquire()
        store.lock.release()
    lock = (time.perf_counter() - t0) / n * 1e6
    shutil.rmtree(path, ignore_errors=True)
    compressed = zlib.compress(b'2025-03-14T09:26:53.582Z,ev_1000001,user_4821,checkout,/api/v2/orders/83121,200,1832,12.48,eu-west-1\n')
    t0 = time.perf_counter()
    for _ in range(10 * n):
        zlib.decompress(compressed)
    inflate = (time.perf_counter() - t0) / (10 * n) * 1e6
    return {'lock': lock, 'inflate100': inflate}


def pandas_bench(root, keys, calls, rows, repeat):
    """partd.PandasBlocks over File and Buffer with DataFrames shaped like
    arrow.ts's tables: 10 float64, 2 int32, 1 categorical of 16 labels."""
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(1)
    labels = ['label-%d' % i for i in range(16)]

    def frame():
        cols = {'f%d' % c: rng.random(rows) for c in range(10)}
        cols.update({'i%d' % c: rng.integers(0, 10 ** 6, rows, dtype=np.int32) for c in range(2)})
        cols['label'] = pd.Categorical.from_codes(rng.integers(0, 16, rows), categories=labels)
        return pd.DataFrame(cols)

    frames = [frame(), frame()]
    row_bytes = 10 * 8 + 2 * 4 + 4
    stacks = [
        ('partd.PandasBlocks(partd.File())', lambda d: partd.PandasBlocks(partd.File(d))),
        ('partd.PandasBlocks(partd.Buffer(Dict(), File(), 64 MiB))',
         lambda d: partd.PandasBlocks(partd.Buffer(partd.Dict(), partd.File(d), available_memory=64 * MIB))),
    ]
    results = []
    for label, make in stacks:
        kept = None
        for _ in range(repeat):
            os.sync()
            path = os.path.join(root, 'partd-pandas')
            shutil.rmtree(path, ignore_errors=True)
            r = {'store': label, 'workload': 'arrow', 'values': keys * calls * rows, 'bytes': keys * calls * rows * row_bytes,
                 'appendSeconds': 0.0, 'getSeconds': 0.0, 'verified': False}
            expected = sum(frames[c % len(frames)]['f0'].sum() for c in range(calls))

            def check(got, k):
                if len(got) != calls * rows or got.shape[1] != 13 or not np.isclose(got['f0'].sum(), expected):
                    return '%d rows' % len(got)
                return None

            append_then_get(r, make(path), path, calls, lambda c: {'k%d' % k: frames[c % len(frames)] for k in range(keys)},
                            ['k%d' % k for k in range(keys)], check, disk_of_file_stack(r, label, path))
            kept = best(kept, r)
        results.append(kept)
    return results


def numpy_bench(root, config_path, repeat):
    """partd.Numpy over File and Buffer, appending the arrays typed-arrays.ts
    appends (read from <dtype>.bin, the same call/key -> array formula) and
    checking every get against the length and CRC-32 it computed."""
    import numpy as np
    with open(config_path) as f:
        config = json.load(f)
    keys, calls, elements, pool_size = config['keys'], config['calls'], config['elements'], config['pool']
    memory = config['memory']
    stacks = [
        ('partd.Numpy(partd.File())', lambda d: partd.Numpy(partd.File(d)), False),
        ('partd.Numpy(partd.Buffer(Dict(), File(), 64 MiB))',
         lambda d: partd.Numpy(partd.Buffer(partd.Dict(), partd.File(d), available_memory=memory)), True),
    ]

    def pick(c, k):
        return (c * keys + k) % pool_size

    results = []
    for label, make, buffered in stacks:
        for name in config['dtypes']:
            dtype = np.dtype(name)
            pool = np.fromfile(os.path.join(root, name + '.bin'), dtype=dtype).reshape(pool_size, elements)
            want = config['expected'][name]
            kept = None
            for _ in range(repeat):
                os.sync()
                path = os.path.join(root, 'partd-numpy')
                shutil.rmtree(path, ignore_errors=True)
                r = {'store': label, 'workload': name, 'values': keys * calls * elements,
                     'bytes': keys * calls * elements * dtype.itemsize,
                     'appendSeconds': 0.0, 'getSeconds': 0.0, 'verified': False}

                def check(got, k):
                    if got.dtype == dtype and len(got) == want['lengths'][k] and zlib.crc32(got) == want['crcs'][k]:
                        return None
                    parts = [pool[pick(c, k)].tobytes() for c in range(calls)]
                    if buffered and got.dtype == dtype and is_rotation(got.tobytes(), parts):
                        return ROTATED
                    return '%s of %d, expected %d' % (got.dtype, len(got), want['lengths'][k])

                append_then_get(r, make(path), path, calls, lambda c: {'k%d' % k: pool[pick(c, k)] for k in range(keys)},
                                ['k%d' % k for k in range(keys)], check, disk_of_file_stack(r, label, path))
                kept = best(kept, r)
            results.append(kept)
    return results


def main():
    mode = sys.argv[1]
    if mode == 'info':
        print(json.dumps({'partd': partd.__version__, 'python': sys.version.split()[0]}))
        return
    if mode == 'costs':
        print(json.dumps(costs(sys.argv[2])))
        return
    if mode == 'pandas':
        print(json.dumps(pandas_bench(sys.argv[2], *(int(a) for a in sys.argv[3:7]))))
        return
    if mode == 'numpy':
        print(json.dumps(numpy_bench(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
        return
    root, config_path, repeat = sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open(config_path) as f:
        config = json.load(f)
    with open(os.path.join(root, 'corpus.bin'), 'rb') as f:
        corpus = f.read()
    results = []
    for w in config['workloads']:
        kept = None
        for _ in range(repeat):
            os.sync()
            r = run(mode, w, corpus, config['stride'], config['expected'][w['id']], os.path.join(root, 'partd-' + mode))
            kept = best(kept, r)
        results.append(kept)
    if len(results) == 1:
        # One workload in this process (as run.ts runs them): the kernel's high-water mark is the row's own.
        results[0]['peakRss'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        results[0]['peakRssExact'] = True
    print(json.dumps(results))


if __name__ == '__main__':
    main()
