// Diagnostics of a set of importance weights (science.md, "Diagnostics users need"). Pure and
// platform-free: the engine logs them every step and the inspector recomputes them on a snapshot.

/** Effective sample size ESS = (Σw)² / Σw². */
export function effectiveSampleSize(w: ArrayLike<number>): number {
  let s = 0
  let s2 = 0
  for (let i = 0; i < w.length; i++) {
    s += w[i]
    s2 += w[i] * w[i]
  }
  return s2 > 0 ? (s * s) / s2 : 0
}

export function median(x: ArrayLike<number>): number {
  const s = Float64Array.from(x).sort()
  const n = s.length
  if (n === 0) return NaN
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
}

export function minMax(x: ArrayLike<number>): [number, number] {
  let lo = Infinity
  let hi = -Infinity
  for (let i = 0; i < x.length; i++) {
    if (x[i] < lo) lo = x[i]
    if (x[i] > hi) hi = x[i]
  }
  return [lo, hi]
}

/** Ranks with ties averaged (1-based). */
export function ranks(x: ArrayLike<number>): Float64Array {
  const n = x.length
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b])
  const r = new Float64Array(n)
  for (let i = 0; i < n;) {
    let j = i
    while (j + 1 < n && x[idx[j + 1]] === x[idx[i]]) j++
    const avg = (i + j) / 2 + 1
    for (let k = i; k <= j; k++) r[idx[k]] = avg
    i = j + 1
  }
  return r
}

/** Spearman rank correlation (weight against score); NaN when either side is constant. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const rx = ranks(x)
  const ry = ranks(y)
  const n = rx.length
  let mx = 0
  let my = 0
  for (let i = 0; i < n; i++) {
    mx += rx[i]
    my += ry[i]
  }
  mx /= n
  my /= n
  let sxy = 0
  let sxx = 0
  let syy = 0
  for (let i = 0; i < n; i++) {
    const a = rx[i] - mx
    const b = ry[i] - my
    sxy += a * b
    sxx += a * a
    syy += b * b
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN
}

export interface WeightStats {
  /** min / median / max of the raw log w (before the clamp) */
  logw_raw_min: number
  logw_raw_median: number
  logw_raw_max: number
  /** min / median / max of log of the clamped (and normalised, if on) weight */
  logw_min: number
  logw_median: number
  logw_max: number
  ess: number
  ess_fraction: number
  /** share of traces whose raw weight the clamp changed (clampCount) */
  clamp_fraction: number
}

export const LOG_FLOOR_W = 1e-30

/** Statistics of one batch or snapshot. `w` are the final weights used in the loss. */
export function weightStats(logWRaw: ArrayLike<number>, w: ArrayLike<number>, clamp: [number, number]): WeightStats {
  const n = w.length
  // a weight clamped to exactly 0 has log w = −∞; report it floored at log(1e-30) ≈ −69 so the
  // statistic stays a finite number that JSON and SQLite carry
  const logw = Float64Array.from(w, (v) => Math.log(Math.max(v, LOG_FLOOR_W)))
  const [rmin, rmax] = minMax(logWRaw)
  const [cmin, cmax] = minMax(logw)
  const ess = effectiveSampleSize(w)
  return {
    logw_raw_min: rmin,
    logw_raw_median: median(logWRaw),
    logw_raw_max: rmax,
    logw_min: cmin,
    logw_median: median(logw),
    logw_max: cmax,
    ess,
    ess_fraction: n > 0 ? ess / n : 0,
    clamp_fraction: clampFraction(logWRaw, clamp)
  }
}

/** How many values a clamp [lo, hi] clipped, of how many counted. The one definition, for trace
 *  weights (log w raw against weights.clamp) and per-step weights (ρ_t against step_clip) alike:
 *  a value is clipped when the clamp changed it, i.e. its exp lies strictly outside [lo, hi] — a
 *  ratio exactly at a bound passes through unchanged, so it is not counted. Judged on the log
 *  (before any exponential), so that a ratio that overflows still counts. With `mask`, only the
 *  entries where it is non-zero count (masked steps of a padded [B, T] batch). */
export function clampCount(logValues: ArrayLike<number>, [lo, hi]: [number, number], mask?: ArrayLike<number>): { clipped: number; n: number } {
  // log 0 = −∞: a lower bound of 0 clips nothing
  const llo = Math.log(lo)
  const lhi = Math.log(hi)
  let clipped = 0
  let n = 0
  for (let i = 0; i < logValues.length; i++) {
    if (mask && !mask[i]) continue
    n++
    if (logValues[i] < llo || logValues[i] > lhi) clipped++
  }
  return { clipped, n }
}

/** Share of the (masked) values the clamp clipped (clampCount); 0 when none count. */
export function clampFraction(logValues: ArrayLike<number>, clamp: [number, number], mask?: ArrayLike<number>): number {
  const { clipped, n } = clampCount(logValues, clamp, mask)
  return n ? clipped / n : 0
}

/** Histogram with `bins` equal-width bins over [lo, hi]; values outside go to the edge bins. */
export function histogram(x: ArrayLike<number>, bins: number, lo?: number, hi?: number): { edges: number[]; counts: number[] } {
  let [a, b] = minMax(x)
  if (lo !== undefined) a = lo
  if (hi !== undefined) b = hi
  if (!Number.isFinite(a) || !Number.isFinite(b)) return { edges: [], counts: [] }
  if (b === a) b = a + 1
  const width = (b - a) / bins
  const counts = new Array<number>(bins).fill(0)
  for (let i = 0; i < x.length; i++) {
    const v = x[i]
    if (!Number.isFinite(v)) continue
    let k = Math.floor((v - a) / width)
    if (k < 0) k = 0
    if (k >= bins) k = bins - 1
    counts[k]++
  }
  return { edges: Array.from({ length: bins + 1 }, (_, i) => a + i * width), counts }
}

/** Histograms of log w raw and of log w (the final weights) of one or more weight sets on ONE set
 *  of equal-width bin edges, so they can be drawn over each other: raw against clamped, one run or
 *  step against another (the inspector, the heatmap over saved steps, imported weights). The edges
 *  span every finite raw log w and every log w of a weight above LOG_FLOOR_W; a weight at or below
 *  it (clamped to 0: log w = −∞) is not binned but counted in zeroWeights. Sets without `w` get
 *  zero clamped counts. No finite value at all: no edges and empty counts. */
export function sharedLogWHistograms(
  sets: ReadonlyArray<{ logWRaw: ArrayLike<number>; w?: ArrayLike<number> }>,
  bins: number
): { edges: number[]; raw: number[][]; clamped: number[][]; zeroWeights: number[] } {
  const logW = sets.map(({ w }) => {
    const kept: number[] = []
    let zeros = 0
    for (let i = 0; i < (w?.length ?? 0); i++) {
      if (w![i] > LOG_FLOOR_W) kept.push(Math.log(w![i]))
      else zeros++
    }
    return { kept, zeros }
  })
  let lo = Infinity
  let hi = -Infinity
  const extend = (a: ArrayLike<number>): void => {
    for (let i = 0; i < a.length; i++) {
      const v = a[i]
      if (!Number.isFinite(v)) continue
      if (v < lo) lo = v
      if (v > hi) hi = v
    }
  }
  for (const s of sets) extend(s.logWRaw)
  for (const l of logW) extend(l.kept)
  if (!Number.isFinite(lo)) return { edges: [], raw: sets.map(() => []), clamped: sets.map(() => []), zeroWeights: logW.map((l) => l.zeros) }
  // one value (or all equal): a unit-wide range around it
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5]
  return {
    edges: histogram([], bins, lo, hi).edges,
    raw: sets.map((s) => histogram(s.logWRaw, bins, lo, hi).counts),
    clamped: logW.map((l) => histogram(l.kept, bins, lo, hi).counts),
    zeroWeights: logW.map((l) => l.zeros)
  }
}

/** What the diagnostics of a set of trace weights say (engine/weights-diagnostics.ts computes them). */
export interface WeightDiagnostics {
  traces: number
  /** ESS/N over the curated multiset (essFraction) */
  ess_n: number
  /** distinct traces the weight effectively sits on (effectiveTraces) */
  effective_traces: number
  top1_share: number
  top5_share: number
  /** share of traces whose raw weight the clamp changed, and their share of the weight */
  clamp_fraction: number
  clamp_share: number
  /** Spearman rank correlation of w with the score and with the quality bin (NaN: one side constant) */
  spearman_w_score: number
  spearman_w_bin: number
  mean_rho_per_step: number
}

/** A stored run's weight diagnostics (suites/diagnostics.ts runWeightDiagnostics; runs.diagnostics). */
export interface RunDiagnostics extends Partial<WeightDiagnostics> {
  run_id: number
  /** the snapshot step the trace diagnostics are from (null: the run has none) */
  step: number | null
  /** ESS/N of the whole curated multiset at the last snapshot (the headline number); null for
   *  methods whose loss has no trace weights (SFT, SFT(Q): the other fields then describe the
   *  weights the config would give; per-step methods: only mean_rho_per_step) */
  ess_n_final: number | null
  /** ESS/N of the last logged training batch, and over training: [step, ESS/N] per logged step */
  ess_n_batch_final: number | null
  ess_n_curve: Array<[number, number]>
  /** σ of π_ref's actions per dimension (Gaussian policies with a checkpoint reference) */
  ref_action_std: number[] | null
  warnings: string[]
}
