import type { Command } from '../command.js';
import { withStore } from '../command.js';
import { usageError } from '../errors.js';
import { Output } from '../io.js';
import { loadCas } from './cas-module.js';

const FILTERS = ['dataset', 'job', 'partition', 'kind', 'prefix', 'suffix'] as const;

export const catalogCommand: Command = {
  name: 'catalog',
  summary: "list a catalog's content records: files, tables, logs of datasets and jobs",
  usage: ['catalog ls SPEC [--dataset ID] [--job JOB] [--partition KEY] [--kind KIND] [--prefix P] [--suffix S] [--json]'],
  description: [
    'Prints the content records of the catalog() kept in the store SPEC describes, in the order',
    'they were registered, one per line: id, kind, size, dataset, job, partition and name,',
    'separated by tabs (- where a record has no job or partition). Each option keeps only the',
    'records that match it. --json prints each record whole as one JSON object per line.',
  ].join('\n'),
  options: {
    dataset: { type: 'string', value: 'ID', help: 'only records of this dataset' },
    job: { type: 'string', value: 'JOB', help: 'only records of this job (job-1, job-2, …)' },
    partition: { type: 'string', value: 'KEY', help: 'only records of this partition' },
    kind: { type: 'string', value: 'KIND', help: 'only records of this kind: file, table, log, histogram, config or menu' },
    prefix: { type: 'string', value: 'P', help: 'only records whose name starts with P' },
    suffix: { type: 'string', value: 'S', help: 'only records whose name ends with S' },
    json: { type: 'boolean', help: 'print each record as JSON, one per line' },
  },
  positionals: { min: 2, max: 2, names: 'ls and SPEC' },
  examples: ["laminate catalog ls 'file(/data/catalog)'", "laminate catalog ls 'log(/data/catalog)' --dataset 3f2a… --kind table --json | jq .schema"],
  async run({ io, values, positionals }) {
    const [action, spec] = positionals;
    if (action !== 'ls') throw usageError(`catalog needs ls first; got ${JSON.stringify(action)}.`, 'catalog');
    const query: Record<string, string> = {};
    for (const name of FILTERS) {
      const value = values[name];
      if (typeof value === 'string') query[name] = value;
    }
    const { catalog } = await loadCas();
    await withStore(spec, 'catalog', { io, directories: 'exists' }, async (store) => {
      const out = new Output(io.stdout);
      for (const record of await catalog(store).list(query)) {
        const line = values.json ? JSON.stringify(record) : [record.id, record.kind, record.size, record.dataset, record.job ?? '-', record.partition ?? '-', record.name].join('\t');
        await out.text(line + '\n');
      }
      await out.flush();
    });
    return 0;
  },
};
