// TensorBoard's smoothing: an exponential moving average whose first-value bias is corrected
// (divide by 1 − w^k, as in Adam), so the smoothed curve starts at the data, not at 0.
export function debiasedEma(values: ArrayLike<number>, weight: number): Float64Array {
  const out = new Float64Array(values.length)
  if (weight <= 0) {
    for (let i = 0; i < values.length; i++) out[i] = values[i]
    return out
  }
  let last = 0
  let k = 0
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (!Number.isFinite(v)) {
      out[i] = v
      continue
    }
    last = last * weight + (1 - weight) * v
    k++
    out[i] = last / (1 - Math.pow(weight, k))
  }
  return out
}

/** Keep at most ~2·buckets points: the min and max of each bucket (shape-preserving for lines). */
export function decimate(x: ArrayLike<number>, y: ArrayLike<number>, buckets: number): { x: number[]; y: number[] } {
  const n = x.length
  if (n <= buckets * 2) return { x: Array.from(x), y: Array.from(y) }
  const ox: number[] = []
  const oy: number[] = []
  const size = n / buckets
  for (let b = 0; b < buckets; b++) {
    const a = Math.floor(b * size)
    const e = Math.min(n, Math.floor((b + 1) * size))
    let lo = a
    let hi = a
    for (let i = a; i < e; i++) {
      if (y[i] < y[lo]) lo = i
      if (y[i] > y[hi]) hi = i
    }
    const [p, q] = lo < hi ? [lo, hi] : [hi, lo]
    ox.push(x[p])
    oy.push(y[p])
    if (q !== p) {
      ox.push(x[q])
      oy.push(y[q])
    }
  }
  return { x: ox, y: oy }
}

/** Mean and standard deviation across runs, aligned on the steps all runs logged. */
export function meanStd(series: Array<{ steps: number[]; values: ArrayLike<number> }>): { steps: number[]; mean: number[]; std: number[] } {
  if (!series.length) return { steps: [], mean: [], std: [] }
  const maps = series.map((s) => {
    const m = new Map<number, number>()
    s.steps.forEach((st, i) => m.set(st, s.values[i]))
    return m
  })
  const steps = series[0].steps.filter((st) => maps.every((m) => m.has(st)))
  const mean: number[] = []
  const std: number[] = []
  for (const st of steps) {
    const v = maps.map((m) => m.get(st)!)
    const mu = v.reduce((a, b) => a + b, 0) / v.length
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - mu) * (b - mu), 0) / Math.max(1, v.length - 1))
    mean.push(mu)
    std.push(v.length > 1 ? sd : 0)
  }
  return { steps, mean, std }
}
