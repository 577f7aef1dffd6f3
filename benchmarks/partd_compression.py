"""The Python side of compression.ts: times the very functions Python partd's
compressing layers call (partd.ZLib, partd.BZ2, partd.Snappy, partd.Blosc
over partd.Dict, each layer's own encode/decode) on the data files compression.ts wrote.

    partd_compression.py DIR REPEAT NAME...

Reads DIR/NAME.bin (split into DIR/chunk-bytes sized chunks), prints one JSON
line: a list of {codec, data, bytes, compressed, compressSeconds,
decompressSeconds, verified} (best of REPEAT runs), or {"error": ...}.
"""
import json
import sys
import time

try:
    import partd
except ImportError as error:
    print(json.dumps({"error": "cannot import partd: %s" % error}))
    sys.exit(0)


def main(root, repeat, names):
    chunk = int(open("%s/chunk-bytes" % root).read())
    layers = [(n, getattr(partd, n)) for n in ("ZLib", "BZ2", "Snappy", "Blosc") if hasattr(partd, n)]
    out = []
    for name in names:
        data = open("%s/%s.bin" % (root, name), "rb").read()
        chunks = [data[i:i + chunk] for i in range(0, len(data), chunk)]
        for label, layer in layers:
            store = layer(partd.Dict())
            best_c = best_d = float("inf")
            packed = []
            ok = True
            for _ in range(repeat):
                t = time.perf_counter()
                packed = [store.encode(c) for c in chunks]
                best_c = min(best_c, time.perf_counter() - t)
                t = time.perf_counter()
                back = [store.decode(p) for p in packed]
                best_d = min(best_d, time.perf_counter() - t)
                ok = ok and back == chunks
            out.append({"codec": "partd.%s" % label, "data": name, "bytes": len(data), "compressed": sum(len(p) for p in packed),
                        "compressSeconds": best_c, "decompressSeconds": best_d, "verified": ok})
    print(json.dumps(out))


main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
