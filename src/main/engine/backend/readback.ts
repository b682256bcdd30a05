// Reading tensors back to JavaScript, and measuring what it costs on each backend.
// environment.md reported "reading 1M floats back took ~800 ms" on the native backend. Measured
// here (measureReadBack, `iwsft backend bench`) that is not the copy: `dataSync`/`data()` of 1M
// floats take ~0.4–2 ms warm on native, wasm and cpu alike (up to ~50 ms the first time fresh
// memory is touched). What costs is building JS arrays from the values: `arraySync()` of 1M
// values 10–220 ms on a quiet machine (an [N, 1] column, one JS array per row, is the worst) and
// up to 1.6 s under load; `Array.from(typed)` 30–50 ms quiet, up to 700 ms under load. So: read
// back typed arrays (readBack), take rows as zero-copy views (readBackRows), and never arraySync
// / Array.from a large tensor.
import * as tf from '@tensorflow/tfjs'

type Data = Float32Array | Int32Array | Uint8Array

/**
 * The values of `t` as a typed array. One synchronous copy (`dataSync`) is the fastest way on
 * every backend measured here (~0.4–2 ms per 1M floats; chunked slices 2–8× and `arraySync`
 * 7–100× slower). Pass `dispose` to free the tensor afterwards.
 */
export function readBack(t: tf.Tensor, opts: { dispose?: boolean } = {}): Data {
  try {
    return t.dataSync() as Data
  } finally {
    if (opts.dispose) t.dispose()
  }
}

/** The rows of a 2-D tensor as zero-copy views into one typed-array read (never arraySync). */
export function readBackRows(t: tf.Tensor, opts: { dispose?: boolean } = {}): Data[] {
  if (t.rank !== 2) throw new Error(`readBackRows needs a 2-D tensor, got shape [${t.shape.join(', ')}]`)
  const [rows, cols] = t.shape as [number, number]
  const flat = readBack(t, opts)
  const out: Data[] = new Array(rows)
  for (let r = 0; r < rows; r++) out[r] = flat.subarray(r * cols, (r + 1) * cols)
  return out
}

/** Several tensors in one go (e.g. a weight snapshot): read each once, free them if asked. */
export function readBackAll(ts: tf.Tensor[], opts: { dispose?: boolean } = {}): Data[] {
  return ts.map((t) => readBack(t, opts))
}

export interface ReadBackTiming {
  backend: string
  elements: number
  /** ms, median of `reps` */
  create_random_normal: number
  data_sync: number
  data_async: number
  array_sync: number
  /** arraySync of the same values shaped [n, 1] */
  array_sync_column: number
  /** Array.from(dataSync()) */
  array_from: number
  chunked_10: number
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** Time the ways of reading an n-element float tensor back, on the active backend. */
export async function measureReadBack(elements = 1_000_000, reps = 5): Promise<ReadBackTiming> {
  const rows = 100
  const cols = Math.ceil(elements / rows)
  const fresh = (): tf.Tensor2D => tf.tidy(() => tf.add(tf.matMul(tf.ones([rows, 8]), tf.ones([8, cols])), tf.scalar(0.5)) as tf.Tensor2D)
  const timeIt = async (f: (t: tf.Tensor2D) => unknown | Promise<unknown>): Promise<number> => {
    const ms: number[] = []
    for (let r = 0; r < reps; r++) {
      const t = fresh()
      const t0 = performance.now()
      await f(t)
      ms.push(performance.now() - t0)
      t.dispose()
    }
    return median(ms)
  }
  const create: number[] = []
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now()
    const t = tf.randomNormal([rows, cols])
    create.push(performance.now() - t0)
    t.dispose()
  }
  return {
    backend: tf.getBackend(),
    elements: rows * cols,
    create_random_normal: median(create),
    data_sync: await timeIt((t) => t.dataSync()),
    data_async: await timeIt((t) => t.data()),
    array_sync: await timeIt((t) => t.arraySync()),
    array_sync_column: await timeIt((t) => {
      const c = tf.reshape(t, [rows * cols, 1])
      c.arraySync()
      c.dispose()
    }),
    array_from: await timeIt((t) => Array.from(t.dataSync())),
    chunked_10: await timeIt((t) => {
      const out = new Float32Array(rows * cols)
      for (let k = 0; k < 10; k++) {
        const s = tf.slice(t, [k * 10, 0], [10, cols])
        out.set(s.dataSync() as Float32Array, k * 10 * cols)
        s.dispose()
      }
      return out
    })
  }
}
