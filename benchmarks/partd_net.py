#!/usr/bin/python3
"""The network peer: partd's zmq Server and Client doing what network.ts
asks of laminate's serve() and client().

    partd_net.py server <dir>          prints the address, serves until stdin closes
    partd_net.py client <address> <producer> <calls> <keysPerCall> <keys> <valueBytes>
                                       prints "ready", waits for a line on stdin,
                                       appends, prints {"start": s, "end": s}
    partd_net.py verify <address> <producers> <calls> <keysPerCall> <keys> <valueBytes>
                                       reads every key back, prints {"verified": bool, "error": ...}
                                       (every value once and intact; order is not checked, see check())

The values are those of net-values.ts: a 8-byte header (u32 LE producer,
u32 LE sequence number) and a body of one byte repeated.
"""
import json
import struct
import sys
import time

import partd
import partd.zmq

MIB = 2 ** 20


def value(p, i, size):
    fill = (p * 31 + i * 7) & 0xFF
    return struct.pack('<II', p, i) + bytes([fill]) * (size - 8)


def key_name(k):
    return 'k%03d' % k


def plan(p, calls, per_call, keys, size):
    """The append calls of producer p: a list of {key: value}."""
    out = []
    i = 0
    for _ in range(calls):
        batch = {}
        for _ in range(per_call):
            batch[key_name(i % keys)] = value(p, i, size)
            i += 1
        out.append(batch)
    return out


def check(lists, producers, calls, per_call, keys, size):
    """Every value once and intact: None, or what is wrong.

    Order is not checked: partd.Buffer's get returns a key's in-memory part
    before the part it spilled to disk, so a spilled key comes back rotated.
    """
    counts = [0] * producers
    for k, data in enumerate(lists):
        if len(data) % size:
            return 'key %s holds %d bytes, not a multiple of %d' % (key_name(k), len(data), size)
        seen = set()
        for off in range(0, len(data), size):
            p, i = struct.unpack_from('<II', data, off)
            if p >= producers or i % keys != k or (p, i) in seen or data[off:off + size] != value(p, i, size):
                return 'bad value (producer %d, number %d) under key %s' % (p, i, key_name(k))
            seen.add((p, i))
            counts[p] += 1
    if counts != [calls * per_call] * producers:
        return 'value counts per producer %s, expected %d each' % (counts, calls * per_call)
    return None


def main():
    mode = sys.argv[1]
    if mode == 'server':
        store = partd.Buffer(partd.Dict(), partd.File(sys.argv[2]), available_memory=64 * MIB)
        server = partd.zmq.Server(store, hostname='127.0.0.1')
        print(server.address.decode(), flush=True)
        sys.stdin.read()
        server.close()
        return
    address = sys.argv[2].encode()
    producers_or_p, calls, per_call, keys, size = (int(a) for a in sys.argv[3:8])
    client = partd.zmq.Client(address)
    if mode == 'client':
        batches = plan(producers_or_p, calls, per_call, keys, size)
        client.get(['warm'])
        print('ready', flush=True)
        sys.stdin.readline()
        start = time.time()
        for batch in batches:
            client.append(batch)
        # append returns once the message is sent; a read answered after it means the server has applied them.
        client.get(['sync'])
        end = time.time()
        print(json.dumps({'start': start, 'end': end}), flush=True)
    elif mode == 'verify':
        lists = client.get([key_name(k) for k in range(keys)])
        error = check(lists, producers_or_p, calls, per_call, keys, size)
        print(json.dumps({'verified': error is None, 'error': error}), flush=True)
    client.close()


main()
