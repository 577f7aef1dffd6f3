import { join } from 'node:path';
import { buffer, dict, file } from '@laminate/core';
import { conformance } from '@laminate/core/testing';
import { arrow, arrowColumns } from '@laminate/arrow';
import { tableValues } from './values.js';

// dict() keeps nothing across reopening. file() reads a key whole, so iter over
// arrow(file) still yields one Table per append (frames carry the boundaries).
const memoryOnly = { reopen: false };

conformance('arrow(dict)', { make: () => arrow(dict()), values: tableValues, supports: memoryOnly });
conformance('arrow(file)', { make: (dir) => arrow(file(dir)), values: tableValues });
conformance('arrow(buffer(dict, file))', { make: (dir) => arrow(buffer(dict(), file(join(dir, 'slow')), { availableMemory: 32 << 10 })), values: tableValues });

// arrowColumns: the same contract, with each column under its own sub-key.
conformance('arrowColumns(dict)', { make: () => arrowColumns(dict()), values: tableValues, supports: memoryOnly });
conformance('arrowColumns(file)', { make: (dir) => arrowColumns(file(dir)), values: tableValues });
conformance('arrowColumns(buffer(dict, file))', { make: (dir) => arrowColumns(buffer(dict(), file(join(dir, 'slow')), { availableMemory: 32 << 10 })), values: tableValues });
