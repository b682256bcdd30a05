import { describe, expect, it } from 'vitest'
import { curate, percentileSorted } from '../../src/shared/curation.ts'

describe('percentile (linear interpolation, numpy default)', () => {
  it('matches hand-worked values', () => {
    const s = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    expect(percentileSorted(s, 0)).toBe(1)
    expect(percentileSorted(s, 100)).toBe(10)
    expect(percentileSorted(s, 50)).toBeCloseTo(5.5, 12) // pos 4.5
    expect(percentileSorted(s, 90)).toBeCloseTo(9.1, 12) // pos 8.1
    expect(percentileSorted(s, 95)).toBeCloseTo(9.55, 12) // pos 8.55
  })
})

describe('curation', () => {
  const scores = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
  it('threshold keeps S > t strictly', () => {
    const c = curate(scores, { mode: 'threshold', threshold: 5 })
    expect(Array.from(c.multiplicity)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    expect(c.kept).toBe(5)
  })
  it('top-k% keeps S ≥ the (100−k)th percentile', () => {
    // 80th percentile: pos 7.2 → 8.2; keeps 9 and 10
    const c = curate(scores, { mode: 'top_k', percent: 20 })
    expect(c.thresholds[0]).toBeCloseTo(8.2, 12)
    expect(Array.from(c.multiplicity)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
  })
  it('quality bins give multiplicity #{j : S ≥ a_j} (paper Algorithm 2)', () => {
    // cutoffs 50, 70, 90 → a = 5.5, 7.3, 9.1
    const c = curate(scores, { mode: 'quality_bins', cutoffs: [50, 70, 90] })
    expect(c.thresholds.map((a) => Number(a.toFixed(6)))).toEqual([5.5, 7.3, 9.1])
    expect(Array.from(c.multiplicity)).toEqual([0, 0, 0, 0, 0, 1, 1, 2, 2, 3])
    expect(c.kept).toBe(5)
    expect(c.total).toBe(9) // |D_Q+| as a multiset: 1+1+2+2+3
    expect(c.perBin).toEqual([2, 2, 1])
  })
  it('a trace exactly at a cutoff is kept (≥), ties all kept', () => {
    const c = curate([0, 0, 1, 1, 1, 1], { mode: 'top_k', percent: 50 })
    // 50th percentile of [0,0,1,1,1,1] = 1 → all four 1s kept
    expect(c.kept).toBe(4)
  })
  it('"all" keeps everything once', () => {
    expect(curate(scores, { mode: 'all' }).total).toBe(10)
  })
})
