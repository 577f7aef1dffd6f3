import { join } from 'node:path';
import { buffer, dict, file } from '@laminate/core';
import { conformance } from '@laminate/core/testing';
import { arrow, arrowColumns } from '@laminate/arrow';
import { tableValues } from './values.js';

// What each stack promises beyond the contract is its own supports manifest:
// dict() keeps nothing across reopening; frames keep the appends apart over file().
conformance('arrow(dict)', { make: () => arrow(dict()), values: tableValues });
conformance('arrow(file)', { make: (dir) => arrow(file(dir)), values: tableValues });
conformance('arrow(buffer(dict, file))', { make: (dir) => arrow(buffer(dict(), file(join(dir, 'slow')), { availableMemory: 32 << 10 })), values: tableValues });

// arrowColumns: the same contract, with each column under its own sub-key.
conformance('arrowColumns(dict)', { make: () => arrowColumns(dict()), values: tableValues });
conformance('arrowColumns(file)', { make: (dir) => arrowColumns(file(dir)), values: tableValues });
conformance('arrowColumns(buffer(dict, file))', { make: (dir) => arrowColumns(buffer(dict(), file(join(dir, 'slow')), { availableMemory: 32 << 10 })), values: tableValues });
