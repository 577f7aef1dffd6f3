// Every write policy of @laminate/core against one model of the contract: random sequences of
// appends (single, batched, concurrent), reads, deletes, pops, drops, metadata and reopenings
// (fixtures/store-model.ts). Seeded, so a failure prints a sequence that replays it.
import { describe, it } from 'vitest';
import { buffer, dict, file, log } from '@laminate/core';
import { tempDirs } from '@laminate/core/testing';
import { checkModel } from './fixtures/store-model.js';

const tempDir = tempDirs('laminate-model-');
const SEED = 2020;

describe('every write policy agrees with the model', () => {
  it('dict()', () => checkModel({ open: () => dict() }, { seed: SEED, runs: 300 }));

  it('file(dir), reopened on the same directory', () => {
    let dir = '';
    return checkModel(
      {
        open: () => file((dir = tempDir())),
        reopen: () => file(dir),
      },
      { seed: SEED, runs: 80, reopen: true },
    );
  });

  it('buffer(dict(), file(dir)), spilling often', () =>
    // availableMemory below one burst of appends: most sequences spill, some spill a key more than once.
    checkModel({ open: () => buffer(dict(), file(tempDir()), { availableMemory: 600, maxSpillKeys: 3 }) }, { seed: SEED, runs: 100, maxValue: 400 }));

  it('buffer(file(dir), dict()): a fast store that is not a dict(), whose sizes buffer() counts itself', () =>
    checkModel({ open: () => buffer(file(tempDir()), dict(), { availableMemory: 600, maxSpillKeys: 3 }) }, { seed: SEED, runs: 40, maxValue: 400 }));

  it('buffer(dict(), dict()) with no memory at all: every append spills', () => checkModel({ open: () => buffer(dict(), dict(), { availableMemory: 0 }) }, { seed: SEED, runs: 100 }));

  it('log(dir), reopened on the same directory', () => {
    let dir = '';
    return checkModel(
      {
        open: () => log((dir = tempDir())),
        reopen: () => log(dir),
      },
      { seed: SEED, runs: 80, reopen: true },
    );
  });

  it('log(dir) with tiny segments and eager compaction, reopened', () => {
    let dir = '';
    const opts = { segmentBytes: 1024, autoCompactBytes: 512, autoCompactRatio: 0.2, checkpointEvery: 8 };
    return checkModel(
      {
        open: () => log((dir = tempDir()), opts),
        reopen: () => log(dir, opts),
      },
      { seed: SEED + 1, runs: 80, reopen: true },
    );
  });
});
