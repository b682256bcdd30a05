// Curation: the "filtering" that turns RL into SFT (science.md, "Curation"). Pure functions
// over an array of scores, shared by the engine and the renderer (live counts while the user
// drags a cutoff), so they import nothing platform-specific.
import type { Curation } from './config.ts'

/** Percentile with linear interpolation between closest ranks (numpy's default), p in [0, 100].
 *  `sorted` must be ascending. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length
  if (n === 0) throw new Error('percentile of an empty list')
  const pos = (p / 100) * (n - 1)
  const lo = Math.floor(pos)
  const hi = Math.min(lo + 1, n - 1)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
}

export function sortedCopy(scores: ArrayLike<number>): Float64Array {
  return Float64Array.from(scores).sort()
}

export interface CurationResult {
  /** m(τ) per trace: 0 = discarded; for quality bins #{j : S(τ) ≥ a_j}; otherwise 0/1 */
  multiplicity: Uint8Array
  /** the score thresholds a_j actually applied (one for threshold/top-k, N for bins, none for "all") */
  thresholds: number[]
  /** traces with m ≥ 1: |D+| */
  kept: number
  /** Σ m(τ): |D_Q+| as a multiset */
  total: number
  /** traces with multiplicity exactly j, for j = 1..N (bins) or [kept] */
  perBin: number[]
}

/** Apply a curation rule. Threshold keeps S > t (strict, as D+ = {τ : S(τ) > t}); top-k and
 *  bins keep S ≥ percentile (paper Algorithm 2). Pass `sorted` to reuse a sorted copy. */
export function curate(scores: ArrayLike<number>, c: Curation, sorted?: ArrayLike<number>): CurationResult {
  const n = scores.length
  const m = new Uint8Array(n)
  let thresholds: number[] = []
  if (c.mode === 'all') {
    m.fill(1)
  } else if (c.mode === 'threshold') {
    thresholds = [c.threshold]
    for (let i = 0; i < n; i++) m[i] = scores[i] > c.threshold ? 1 : 0
  } else {
    const s = sorted ?? sortedCopy(scores)
    const cutoffs = c.mode === 'top_k' ? [100 - c.percent] : c.cutoffs
    thresholds = cutoffs.map((p) => percentileSorted(s, p))
    for (let i = 0; i < n; i++) {
      let k = 0
      for (const a of thresholds) if (scores[i] >= a) k++
      m[i] = k
    }
  }
  const result: CurationResult = { multiplicity: m, thresholds, kept: 0, total: 0, perBin: new Array<number>(c.mode === 'quality_bins' ? c.cutoffs.length : 1).fill(0) }
  recount(result)
  return result
}

/** Recompute kept, total and perBin from the multiplicities (after some were set to 0). */
export function recount(c: CurationResult): void {
  c.kept = 0
  c.total = 0
  c.perBin.fill(0)
  for (let i = 0; i < c.multiplicity.length; i++) {
    const m = c.multiplicity[i]
    if (m > 0) {
      c.kept++
      c.total += m
      c.perBin[m - 1]++
    }
  }
}

/** The held-out traces of a dataset: round(fraction · N) indices drawn without replacement by
 *  a generator seeded from the dataset's content hash, so every run on the dataset holds out
 *  the same traces. Sorted ascending. */
export function holdoutIndices(n: number, fraction: number, dataHash: string): Int32Array {
  const k = Math.round(fraction * n)
  if (k === 0) return new Int32Array(0)
  let state = parseInt(dataHash.slice(0, 8), 16) >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = Math.imul(state ^ (state >>> 15), state | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  // partial Fisher–Yates
  const idx = Int32Array.from({ length: n }, (_, i) => i)
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(next() * (n - i))
    const t = idx[i]
    idx[i] = idx[j]
    idx[j] = t
  }
  return idx.slice(0, k).sort()
}
