import { describe, expect, it } from 'vitest'
import { clampFraction, effectiveSampleSize, histogram, median, spearman, weightStats } from '../../src/shared/weight-stats.ts'

describe('weight diagnostics', () => {
  it('ESS = (Σw)²/Σw²', () => {
    expect(effectiveSampleSize([1, 1, 1, 1])).toBe(4)
    expect(effectiveSampleSize([4, 0, 0, 0])).toBe(1)
    expect(effectiveSampleSize([1, 2, 3])).toBeCloseTo(36 / 14, 12)
  })
  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
  })
  it('clamp fraction judged in log space (an overflowing raw weight counts)', () => {
    expect(clampFraction([1200, 0, -800], [0, 16])).toBeCloseTo(1 / 3, 12)
    expect(clampFraction([-4, 0], [0.1, 16])).toBe(0.5)
  })
  it('Spearman: monotone = 1, reversed = −1, ties averaged', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1, 12)
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12)
    // x ranks [1.5,1.5,3], y ranks [1,2,3]: r = 0.75/sqrt(0.5·2) ≈ 0.8660
    expect(spearman([1, 1, 2], [1, 2, 3])).toBeCloseTo(Math.sqrt(3) / 2, 10)
  })
  it('histogram counts every finite value once', () => {
    const h = histogram([0, 0.1, 0.5, 0.99, 1], 2, 0, 1)
    expect(h.counts).toEqual([2, 3])
    expect(h.edges).toEqual([0, 0.5, 1])
  })
  it('stats of a batch', () => {
    const s = weightStats([1, -1, 0], [Math.E, 1 / Math.E, 1], [0, 16])
    expect(s.logw_raw_min).toBe(-1)
    expect(s.logw_raw_max).toBe(1)
    expect(s.logw_median).toBeCloseTo(0, 12)
    expect(s.clamp_fraction).toBe(0)
    expect(s.ess_fraction).toBeCloseTo(effectiveSampleSize([Math.E, 1 / Math.E, 1]) / 3, 12)
  })
})
