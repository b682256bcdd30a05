// What a set of trace weights says about a run (science.md, "Diagnostics users need"): how many
// traces the weights effectively keep, how much of the weight the top traces hold, how much
// the clamp decides, whether the weights follow the score, and how far q has moved from π_ref.
// Pure functions over plain arrays (a weight snapshot, the curation, the logged metrics), so a
// suite, a sweep and a report all compute the same numbers.
//
// The weights are judged as the loss sees them: a trace τ is sampled with mass μ(τ) (its
// quality-bin multiplicity m(τ) for D_Q+, 1 for D+; paper Algorithm 2) and weighted by its
// clamped w(τ), so its share of the gradient's weight is μ w / Σ μ w. Batch normalisation
// (w · B / Σ_batch w) rescales every weight of a batch alike and changes none of these numbers.
import { clampCount, spearman } from '../../shared/weight-stats.ts'

/** ESS/N below this: the weights sit on a handful of traces (issue 15). */
export const ESS_COLLAPSED = 0.2
/** ESS/N above this: the weights are ≈ 1 and iw-SFT trains as SFT. */
export const ESS_UNIFORM = 0.98

/** w = clamp(exp(log w_raw), lo, hi), formed in log space (a raw log w of +1200 gives hi). */
export function clampWeights(logWRaw: ArrayLike<number>, [lo, hi]: [number, number]): Float64Array {
  const llo = Math.log(lo)
  const lhi = Math.log(hi)
  return Float64Array.from(logWRaw, (v) => Math.exp(Math.max(llo, Math.min(lhi, v))))
}

/** ESS/N of the weights over the curated multiset: ESS = (Σ μw)² / Σ μw², N = Σ μ — a trace of
 *  mass 3 counts as three copies. 1 when every weight is equal; 1/N when one copy holds all. */
export function essFraction(w: ArrayLike<number>, mass: ArrayLike<number>): number {
  let n = 0
  let s = 0
  let s2 = 0
  for (let i = 0; i < w.length; i++) {
    n += mass[i]
    s += mass[i] * w[i]
    s2 += mass[i] * w[i] * w[i]
  }
  return s2 > 0 && n > 0 ? (s * s) / s2 / n : 0
}

/** Each trace's share of the weight: μ_i w_i / Σ_j μ_j w_j (all 0 when every weight is 0). */
export function weightShares(w: ArrayLike<number>, mass: ArrayLike<number>): Float64Array {
  const s = Float64Array.from(w, (v, i) => v * mass[i])
  const total = s.reduce((a, b) => a + b, 0)
  return total > 0 ? s.map((v) => v / total) : s.fill(0)
}

/** Share of the weight held by the k traces that hold the most. */
export function topShare(shares: ArrayLike<number>, k: number): number {
  return Float64Array.from(shares)
    .sort()
    .reverse()
    .subarray(0, k)
    .reduce((a, b) => a + b, 0)
}

/** The number of distinct traces the weight effectively sits on: (Σ s)² / Σ s² over the shares
 *  (= 1 / Σ s², since they sum to 1). */
export function effectiveTraces(shares: ArrayLike<number>): number {
  let s2 = 0
  for (let i = 0; i < shares.length; i++) s2 += shares[i] * shares[i]
  return s2 > 0 ? 1 / s2 : 0
}

/** Mean over traces of the per-step log ratio g(ρ_t) averaged along the trace, read back from
 *  the raw log weight: log w = temp · mean_t g(ρ_t) ("mean"), temp · Σ_t g(ρ_t) ("sum", then
 *  divided by the trace's length). */
export function meanRhoPerStep(logWRaw: ArrayLike<number>, temp: number, aggregate: 'mean' | 'sum', lengths: ArrayLike<number>): number {
  if (logWRaw.length === 0) return NaN
  let sum = 0
  for (let i = 0; i < logWRaw.length; i++) sum += aggregate === 'mean' ? logWRaw[i] / temp : logWRaw[i] / (temp * Math.max(1, lengths[i]))
  return sum / logWRaw.length
}

/** σ = exp(clip(log σ, lo, hi)) per action dimension of a Gaussian policy (its learned,
 *  state-independent log-std, clamped as the policy clamps it). */
export function gaussianActionStd(logStd: ArrayLike<number>, [lo, hi]: [number, number]): number[] {
  return Array.from(logStd, (v) => Math.exp(Math.max(lo, Math.min(hi, v))))
}

export interface TraceWeightInput {
  /** raw log w of each curated trace (a weight snapshot) */
  logWRaw: ArrayLike<number>
  /** sampling mass μ: m(τ) for D_Q+ methods, 1 for D+ */
  mass: ArrayLike<number>
  /** quality bin m(τ) (1 … N; all 1 for a single cutoff) */
  bin: ArrayLike<number>
  score: ArrayLike<number>
  /** masked steps of each trace (|τ|) */
  length: ArrayLike<number>
  clamp: [number, number]
  temp: number
  aggregate: 'mean' | 'sum'
}

export type { WeightDiagnostics } from '../../shared/weight-stats.ts'
import type { WeightDiagnostics } from '../../shared/weight-stats.ts'

export function traceWeightDiagnostics(x: TraceWeightInput): WeightDiagnostics {
  const w = clampWeights(x.logWRaw, x.clamp)
  const shares = weightShares(w, x.mass)
  const [llo, lhi] = [Math.log(x.clamp[0]), Math.log(x.clamp[1])]
  let clampShare = 0
  for (let i = 0; i < shares.length; i++) if (x.logWRaw[i] < llo || x.logWRaw[i] > lhi) clampShare += shares[i]
  const { clipped, n } = clampCount(x.logWRaw, x.clamp)
  return {
    traces: w.length,
    ess_n: essFraction(w, x.mass),
    effective_traces: effectiveTraces(shares),
    top1_share: topShare(shares, 1),
    top5_share: topShare(shares, 5),
    clamp_fraction: n ? clipped / n : 0,
    clamp_share: clampShare,
    spearman_w_score: spearman(w, x.score),
    spearman_w_bin: spearman(w, x.bin),
    mean_rho_per_step: meanRhoPerStep(x.logWRaw, x.temp, x.aggregate, x.length)
  }
}

/** The warnings a researcher should see (CLI, app, results JSON): weights collapsed onto a few
 *  traces, or weights so even that iw-SFT is SFT. */
export function weightWarnings(d: Pick<WeightDiagnostics, 'ess_n' | 'effective_traces' | 'traces'>): string[] {
  if (!(d.traces > 0)) return []
  if (d.ess_n < ESS_COLLAPSED) {
    return [`weights collapsed onto ${Math.max(1, Math.round(d.effective_traces))} traces (ESS/N ${d.ess_n.toFixed(3)} < ${ESS_COLLAPSED} of ${d.traces}): lower weights.temp`]
  }
  if (d.ess_n > ESS_UNIFORM) return [`weights ≈ 1: iw-SFT is SFT here (ESS/N ${d.ess_n.toFixed(3)} > ${ESS_UNIFORM}): q has not moved from π_ref, or weights.temp is small`]
  return []
}
