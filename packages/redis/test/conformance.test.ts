import { basename } from 'node:path';
import { buffer, dict, msgpack, zstd } from '@laminate/core';
import { bytesValues, conformance, recordValues } from '@laminate/core/testing';
import { redis } from '@laminate/redis';
import { afterAll } from 'vitest';
import { cluster, singleServer } from './fixtures/servers.js';

// Real servers, started before the suite is collected (the suite builds a store to read its supports).
const [single, masters] = await Promise.all([singleServer(), cluster(3)]);
afterAll(() => Promise.all([single.stop(), masters.stop()]));

// Each store the suite makes gets a namespace of its own (the suite's fresh directory names one), so each starts empty.
conformance('redis (single server)', { make: (dir) => redis(`${single.url}/${basename(dir)}`), values: bytesValues });
conformance('msgpack(zstd(buffer(dict(), redis())))', {
  make: (dir) => msgpack(zstd(buffer(dict(), redis(`${single.url}/${basename(dir)}`), { availableMemory: 64 << 10 }))),
  values: recordValues,
});
conformance('redis (3-master cluster)', { make: (dir) => redis({ cluster: masters.urls, namespace: basename(dir) }), values: bytesValues });
