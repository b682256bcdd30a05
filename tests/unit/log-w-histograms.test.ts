// sharedLogWHistograms: the one way log-w histograms are binned (inspector, heatmap, imported
// weights). Bins worked out by hand below.
import { describe, expect, it } from 'vitest'
import { sharedLogWHistograms } from '../../src/shared/weight-stats.ts'

describe('sharedLogWHistograms', () => {
  it('bins raw and clamped log w of two sets on one set of edges; zero weights are counted, not binned', () => {
    // A: raw log w 0.5, 1, 2.5, 4; final w = e^0.5, e^1, e^3 and 0 (clamped to 0)
    // B: raw log w −2, 3.5; final w = e^−1.5 and 1e-31 (below the floor 1e-30: a zero weight)
    // range: lowest −2 (B raw), highest 4 (A raw) → 3 bins of width 2: [−2,0) [0,2) [2,4]
    //   A raw:     0.5→1, 1→1, 2.5→2, 4→2 (the top edge belongs to the last bin)   = [0, 2, 2]
    //   A clamped: 0.5→1, 1→1, 3→2, the 0 weight not binned                      = [0, 2, 1], 1 zero
    //   B raw:     −2→0, 3.5→2                                                   = [1, 0, 1]
    //   B clamped: −1.5→0, the 1e-31 weight not binned                           = [1, 0, 0], 1 zero
    const h = sharedLogWHistograms(
      [
        { logWRaw: [0.5, 1, 2.5, 4], w: [Math.exp(0.5), Math.exp(1), Math.exp(3), 0] },
        { logWRaw: [-2, 3.5], w: Float32Array.from([Math.exp(-1.5), 1e-31]) }
      ],
      3
    )
    expect(h.edges).toEqual([-2, 0, 2, 4])
    expect(h.raw).toEqual([
      [0, 2, 2],
      [1, 0, 1]
    ])
    expect(h.clamped).toEqual([
      [0, 2, 1],
      [1, 0, 0]
    ])
    expect(h.zeroWeights).toEqual([1, 1])
  })

  it('a clamped log w outside the raw range widens the edges', () => {
    // raw log w 0 and 1; final w = 1 and e^3 (normalised up): range [0, 3], 3 bins of width 1
    //   raw: 0→0, 1→1 = [1, 1, 0];  clamped: 0→0, 3→2 (top edge) = [1, 0, 1]
    const h = sharedLogWHistograms([{ logWRaw: [0, 1], w: [1, Math.exp(3)] }], 3)
    expect(h.edges).toHaveLength(4)
    h.edges.forEach((e, i) => expect(e).toBeCloseTo(i, 12))
    expect(h.raw).toEqual([[1, 1, 0]])
    expect(h.clamped).toEqual([[1, 0, 1]])
  })

  it('one value gets a unit-wide range around it; sets without w (the heatmap) bin raw only', () => {
    const h = sharedLogWHistograms([{ logWRaw: [0, 0, 0] }], 2)
    expect(h.edges).toEqual([-0.5, 0, 0.5])
    expect(h.raw).toEqual([[0, 3]])
    expect(h.clamped).toEqual([[0, 0]])
    expect(h.zeroWeights).toEqual([0])
  })

  it('no finite value: no edges, empty counts', () => {
    const h = sharedLogWHistograms([{ logWRaw: [-Infinity, NaN], w: [0, 0] }, { logWRaw: [] }], 10)
    expect(h).toEqual({ edges: [], raw: [[], []], clamped: [[], []], zeroWeights: [2, 0] })
  })
})
