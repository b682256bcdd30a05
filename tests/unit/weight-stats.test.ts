import { describe, expect, it } from 'vitest'
import { clampCount, clampFraction, effectiveSampleSize, histogram, median, spearman, weightStats } from '../../src/shared/weight-stats.ts'

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
  it('clip fraction: a value exactly at a bound is not clipped (the clamp leaves it as it is)', () => {
    // clamp [1, 2], judged on the log: ρ = 0 gives exp = 1 = lo and ρ = ln 2 gives exp = 2 = hi,
    // both left unchanged; ρ = −0.1 (0.905 < 1) and ρ = 1 (e > 2) are clipped; ρ = 0.5 (1.65) is
    // inside; the sixth entry is masked out. 2 of 5. (The trainer's old rule, w ≤ lo or w ≥ hi on
    // the clamped weight, counted the two at the bounds too: 4 of 5.)
    const rho = [0, Math.log(2), -0.1, 0.5, 1, 5]
    const mask = [1, 1, 1, 1, 1, 0]
    expect(clampCount(rho, [1, 2], mask)).toEqual({ clipped: 2, n: 5 })
    expect(clampFraction(rho, [1, 2], mask)).toBe(0.4)
    // without a mask the sixth (5 > ln 2) counts too: 3 of 6
    expect(clampFraction(rho, [1, 2])).toBe(0.5)
    // a lower bound of 0 clips nothing below; nothing counted → 0
    expect(clampFraction([-1000, 1000], [0, 2])).toBe(0.5)
    expect(clampFraction([1, 2], [0, 2], [0, 0])).toBe(0)
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
