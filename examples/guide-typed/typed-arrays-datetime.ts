import { Datetime64Array, dict, typedArrays } from 'laminate';

const store = typedArrays(dict());

// numpy datetime64: int64 counts of a unit since 1970-01-01 UTC, NaT as the smallest int64.
const launches = Datetime64Array.fromDates([new Date('1969-07-16T13:32:00Z'), null], 's');
await store.append({ launches });
await store.append({ launches: new Datetime64Array([1_000_000_000n], 's') });

const back = (await store.get('launches')) as Datetime64Array;
console.log(back.unit, back.values);
console.log(back.toDates());

// The unit is part of the dtype: <M8[s] here, so nanoseconds are refused (ERR_DTYPE).
await store
  .append({ launches: new Datetime64Array([1n], 'ns') })
  .catch((error) => console.log(error.code));
