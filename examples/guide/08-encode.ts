import { dict, encode, file, formatSpec, open, type BaseStore } from 'laminate';
import { registerLayer, wrongValue } from 'laminate/layer';

// encode(codec, inner) makes a layer from your own codec: each appended value is
// encoded into one frame of the bytes store below; get decodes the frames and joins them.
function float64(inner: BaseStore<Uint8Array>) {
  return encode<Float64Array>(
    {
      name: 'float64', // the layer's name in describe() and in messages
      encode: (values) => new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
      // A payload may sit at any offset of a larger buffer: copy it into an aligned one.
      decode: (payload) => new Float64Array(new Uint8Array(payload).buffer),
      join: (parts) => {
        const out = new Float64Array(parts.reduce((n, part) => n + part.length, 0));
        let at = 0;
        for (const part of parts) {
          out.set(part, at);
          at += part.length;
        }
        return out;
      },
      // Optional: what a missing key reads as (default: join([])), and a check
      // that refuses wrong values with ERR_VALUE_TYPE before anything is stored.
      empty: () => new Float64Array(0),
      check(value, id): asserts value is Float64Array {
        if (!(value instanceof Float64Array)) throw wrongValue('float64', 'Float64Array values', value, id);
      },
    },
    inner,
  );
}

const prices = float64(dict());
await prices.append({ AAPL: Float64Array.of(189.5, 190.25) });
await prices.append({ AAPL: Float64Array.of(191) });
console.log(await prices.get('AAPL'), await prices.get('MSFT'));
try {
  await prices.append({ AAPL: [192] as never });
} catch (error) {
  console.log((error as { code: string }).code);
}

// Register the layer under its name, and open() and the short form can rebuild it.
registerLayer('float64', { children: ['inner'], open: (spec, inner) => float64(inner(spec.inner as never)) });
const onDisk = float64(file());
await onDisk.append({ series: Float64Array.of(1, 2, 3) });
const spec = formatSpec(onDisk.describe());
console.log(spec);
const again = open(spec);
console.log(await again.get('series'));
await again.close();
await onDisk.close();
