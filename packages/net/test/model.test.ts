// client(serve(...)) against the model of the contract (core's fixtures/store-model.ts): the
// same generated sequences as the local write policies, here over a socket, with "reopen" as a
// new client on the same server, and with the connection cut between calls and in the middle
// of concurrent appends, which must neither lose nor repeat a change.
import { type BaseStore, buffer, dict, file, log } from '@laminate/core';
import { client } from '@laminate/net';
import { describe, it } from 'vitest';
import { checkModel } from '../../core/test/fixtures/store-model.js';
import { harness } from './fixtures/harness.js';
import { CuttingProxy } from './fixtures/proxy.js';

const { tempDir, later, startedServer } = harness();
const SEED = 2021;

/** One server for every run of a test; each run starts on an emptied store and a new client. */
async function served(store: BaseStore<Uint8Array>): Promise<{ address: string; fresh: () => Promise<BaseStore<Uint8Array>> }> {
  const server = await startedServer(store);
  return {
    address: server.address,
    fresh: async () => {
      await store.drop();
      return client(server.address);
    },
  };
}

describe('client(serve(...)) agrees with the model', () => {
  it('client(serve(dict())), a new client on the same server as reopen', async () => {
    const { address, fresh } = await served(dict());
    await checkModel({ open: fresh, reopen: () => client(address) }, { seed: SEED, runs: 60, reopen: true });
  });

  it('client(serve(file(dir))), a new client on the same server as reopen', async () => {
    const { address, fresh } = await served(file(tempDir()));
    await checkModel({ open: fresh, reopen: () => client(address) }, { seed: SEED, runs: 40, reopen: true });
  });

  it('client(serve(buffer(dict(), file(dir)))) and client(serve(log(dir)))', async () => {
    const spilling = await served(buffer(dict(), file(tempDir()), { availableMemory: 600, maxSpillKeys: 3 }));
    await checkModel({ open: spilling.fresh }, { seed: SEED, runs: 30, maxValue: 400 });
    const logged = await served(log(tempDir()));
    await checkModel({ open: logged.fresh }, { seed: SEED, runs: 30 });
  });

  it('client(serve(dict())) through a proxy that cuts the connection, between calls and during concurrent appends', async () => {
    const { address } = await served(dict());
    const proxy = await CuttingProxy.start(address);
    later(() => proxy.close());
    const fresh = async () => {
      const store = client(proxy.address);
      // Emptied through the proxy, so each run also starts on a new connection.
      await store.drop();
      return store;
    };
    // Every other disturbance first swallows the server's replies for a moment, so the server has
    // applied changes the client never heard answered and resends after the cut.
    let disturbances = 0;
    const disturb = () => {
      if (disturbances++ % 2 === 0) return proxy.cut();
      proxy.swallow = true;
      setTimeout(() => {
        proxy.cut();
        proxy.swallow = false;
      }, 2);
    };
    await checkModel({ open: fresh, disturb }, { seed: SEED, runs: 60, disturb: true });
  });
});
