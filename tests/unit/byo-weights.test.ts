// Weights of imported ("bring your own") log-probs against numbers worked by hand. The two
// traces are those of tests/fixtures/text/byo-logprobs.jsonl:
//   t0: prompt [1, 4], completion ρ_t = log q − log π_ref = [0.25, −0.5, 0]  → Σρ = −0.25, mean −1/12
//   t1: no prompt,    completion ρ_t = [1, 0]                               → Σρ = 1,     mean 1/2
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { byoTraceSteps, byoWeights, type ByoSettings } from '../../src/main/engine/byo-weights.ts'
import { fromTraces, type TraceDataset } from '../../src/main/common/trace.ts'

const LLM: ByoSettings = { temp: 1, aggregate: 'mean', per_step: null, clamp: [0, 16], normalize: false, step_clip: [0.2, 1.8] }

/** The fixture's two traces; `promptLp` fills the prompt steps' log-probs (0 in the importer's
 *  output; anything else must not change a result, because the prompt is masked). */
function twoTraces(promptLp = 0): { ds: TraceDataset; ref: Float32Array; pol: Float32Array } {
  const ds = fromTraces('two', 'sequence', 0, 10, [
    { id: 't0', actions: [1, 4, 5, 6, 2], mask: [0, 0, 1, 1, 1], score: 1 },
    { id: 't1', actions: [7, 2], mask: [1, 1], score: 0 }
  ])
  const ref = Float32Array.from([promptLp, promptLp, -0.5, -1.0, -0.25, -2.0, -0.1])
  const pol = Float32Array.from([3 * promptLp, -7, -0.25, -1.5, -0.25, -1.0, -0.1])
  return { ds, ref, pol }
}

const close = (a: ArrayLike<number>, b: number[], eps = 1e-5): void => {
  expect(a.length).toBe(b.length)
  for (let i = 0; i < b.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(eps * Math.max(1, Math.abs(b[i])))
}

beforeAll(async () => {
  await tf.setBackend('cpu')
})

describe('byoWeights, trace variant', () => {
  it('LLM defaults: log w = mean ρ, w = exp, ESS by hand', () => {
    const { ds, ref, pol } = twoTraces()
    const r = byoWeights(ds, ref, pol, LLM, 'trace')
    close(r.logWRaw, [-1 / 12, 0.5])
    close(r.w, [Math.exp(-1 / 12), Math.exp(0.5)])
    const w = [Math.exp(-1 / 12), Math.exp(0.5)]
    const ess = (w[0] + w[1]) ** 2 / (w[0] ** 2 + w[1] ** 2)
    expect(r.stats.ess).toBeCloseTo(ess, 5) // 1.85105
    expect(r.stats.ess_fraction).toBeCloseTo(ess / 2, 5)
    expect(r.stats.clamp_fraction).toBe(0)
    expect(r.stats.logw_raw_median).toBeCloseTo((0.5 - 1 / 12) / 2, 6)
  })

  it('masks are respected: prompt log-probs do not enter', () => {
    const a = twoTraces(0)
    const b = twoTraces(-3.5)
    const ra = byoWeights(a.ds, a.ref, a.pol, LLM, 'trace')
    const rb = byoWeights(b.ds, b.ref, b.pol, LLM, 'trace')
    close(rb.logWRaw, Array.from(ra.logWRaw))
    close(rb.w, Array.from(ra.w))
  })

  it('aggregate sum with temp 2: log w = 2 · Σρ', () => {
    const { ds, ref, pol } = twoTraces()
    const r = byoWeights(ds, ref, pol, { ...LLM, aggregate: 'sum', temp: 2 }, 'trace')
    close(r.logWRaw, [-0.5, 2])
    close(r.w, [Math.exp(-0.5), Math.exp(2)])
  })

  it('the clamp applies to w, and its fraction counts the traces outside', () => {
    const { ds, ref, pol } = twoTraces()
    const r = byoWeights(ds, ref, pol, { ...LLM, aggregate: 'sum', temp: 2, clamp: [0.7, 4] }, 'trace')
    close(r.logWRaw, [-0.5, 2]) // raw is before the clamp
    close(r.w, [0.7, 4]) // e^-0.5 = 0.607 → 0.7; e^2 = 7.39 → 4
    expect(r.stats.clamp_fraction).toBe(1)
    const r2 = byoWeights(ds, ref, pol, { ...LLM, aggregate: 'sum', temp: 2, clamp: [0.5, 4] }, 'trace')
    close(r2.w, [Math.exp(-0.5), 4])
    expect(r2.stats.clamp_fraction).toBe(0.5)
  })

  it('normalize: over the whole set, mean 1', () => {
    const { ds, ref, pol } = twoTraces()
    const r = byoWeights(ds, ref, pol, { ...LLM, normalize: true }, 'trace')
    const w = [Math.exp(-1 / 12), Math.exp(0.5)]
    const s = w[0] + w[1]
    close(r.w, [(2 * w[0]) / s, (2 * w[1]) / s]) // 0.71633, 1.28367
    expect(r.w[0] + r.w[1]).toBeCloseTo(2, 5)
  })

  it('per-step transforms: clip ρ and clip the ratio', () => {
    const { ds, ref, pol } = twoTraces()
    // clip ρ to [−0.1, 0.1]: t0 [0.1, −0.1, 0] → 0; t1 [0.1, 0] → 0.1 (sum, temp 1)
    const a = byoWeights(ds, ref, pol, { ...LLM, aggregate: 'sum', per_step: { clip_rho: [-0.1, 0.1] } }, 'trace')
    close(a.logWRaw, [0, 0.1])
    // ratio to [0.8, 1.25] = ρ to [log 0.8, log 1.25] = ±0.22314: t0 [0.223, −0.223, 0] → 0; t1 → 0.223, w = 1.25
    const b = byoWeights(ds, ref, pol, { ...LLM, aggregate: 'sum', per_step: { clip_ratio: [0.8, 1.25] } }, 'trace')
    close(b.logWRaw, [0, Math.log(1.25)])
    close(b.w, [1, 1.25])
  })

  it('a trace whose log ratio overflows exp gives the clamp bound, not Infinity', () => {
    const ds = fromTraces('big', 'sequence', 0, 3, [
      { actions: [1, 1], mask: [1, 1], score: 1 },
      { actions: [2], mask: [1], score: 0 }
    ])
    const r = byoWeights(ds, Float32Array.from([-600, -600, -1]), Float32Array.from([0, 0, -1]), { ...LLM, aggregate: 'sum' }, 'trace')
    close(r.logWRaw, [1200, 0])
    close(r.w, [16, 1])
  })

  it('refuses bad settings and log-probs that do not fit the dataset', () => {
    const { ds, ref, pol } = twoTraces()
    expect(() => byoWeights(ds, ref, pol, { ...LLM, temp: 0 }, 'trace')).toThrow(/temp/)
    expect(() => byoWeights(ds, ref.subarray(1), pol, LLM, 'trace')).toThrow(/6 reference log-probs for 7 steps/)
    const bad = pol.slice()
    bad[3] = NaN
    expect(() => byoWeights(ds, ref, bad, LLM, 'trace')).toThrow(/policy log-prob at flat step 3 is NaN/)
  })
})

describe('byoWeights, per-step variant', () => {
  it('w_t = clamp(exp ρ_t, step_clip); per trace the mean; step ESS and clip fraction by hand', () => {
    const { ds, ref, pol } = twoTraces(-2) // prompt values must not matter here either
    const r = byoWeights(ds, ref, pol, { ...LLM, temp: 7, normalize: true }, 'per_step') // temp / normalize do not apply
    const wt = [Math.exp(0.25), Math.exp(-0.5), 1, 1.8, 1] // e^1 = 2.718 clipped to 1.8
    close(r.w, [(wt[0] + wt[1] + wt[2]) / 3, (wt[3] + wt[4]) / 2]) // 0.963519, 1.4
    close(r.logWRaw, [-1 / 12, 0.5])
    const s = wt.reduce((a, b) => a + b, 0)
    const s2 = wt.reduce((a, b) => a + b * b, 0)
    expect(r.steps!.n).toBe(5)
    expect(r.steps!.ess).toBeCloseTo((s * s) / s2, 4) // 4.46246
    expect(r.steps!.clip_fraction).toBeCloseTo(1 / 5, 6)
    expect(r.stats.clamp_fraction).toBeCloseTo(1 / 5, 6)
    expect(r.steps!.w_mean).toBeCloseTo(s / 5, 5)
  })

  it('changing step_clip changes w as computed by hand', () => {
    const { ds, ref, pol } = twoTraces()
    const r = byoWeights(ds, ref, pol, { ...LLM, step_clip: [0.9, 1.1] }, 'per_step')
    close(r.w, [(1.1 + 0.9 + 1) / 3, (1.1 + 1) / 2])
    expect(r.steps!.clip_fraction).toBeCloseTo(3 / 5, 6)
  })

  it('a step whose ratio lies exactly at a bound of step_clip is not clipped', () => {
    // ρ_t = [0.25, −0.5, 0, 1, 0] with step_clip [1, 2]: the two ρ = 0 (ratio 1 = lo) are left as
    // they are; −0.5 (0.61) and 1 (e) are clipped; 0.25 (1.28) is inside → 2 of 5
    const { ds, ref, pol } = twoTraces()
    const r = byoWeights(ds, ref, pol, { ...LLM, step_clip: [1, 2] }, 'per_step')
    expect(r.steps!.clip_fraction).toBeCloseTo(2 / 5, 6)
  })
})

describe('byoTraceSteps', () => {
  it('ρ_t, g(ρ_t) and w_t along one trace; NaN on prompt steps', () => {
    const { ds, ref, pol } = twoTraces(-1)
    const t = byoTraceSteps(ds, ref, pol, 0, { per_step: { clip_rho: [-0.1, 0.1] }, step_clip: [0.2, 1.8] })
    expect(Number.isNaN(t.rho[0]) && Number.isNaN(t.rho[1])).toBe(true)
    close(t.rho.subarray(2), [0.25, -0.5, 0])
    close(t.g.subarray(2), [0.1, -0.1, 0])
    close(t.wStep.subarray(2), [Math.exp(0.25), Math.exp(-0.5), 1])
    const w = byoWeights(ds, ref, pol, LLM, 'trace', { rhoTraces: [1] })
    close(w.rho!.get(1)!.rho, [1, 0])
    expect(() => byoTraceSteps(ds, ref, pol, 2, LLM)).toThrow(/trace 2 is out of range/)
  })
})

describe('byoWeights with a cache of the passes over all steps', () => {
  it('gives the same float32 numbers as without, for changed temp, clamp, normalisation and step clip', () => {
    const { ds, ref, pol } = twoTraces()
    const cache = new Map<string, unknown>()
    const variants: Array<[ByoSettings, 'trace' | 'per_step']> = [
      [LLM, 'trace'],
      [{ ...LLM, temp: 3.7 }, 'trace'],
      [{ ...LLM, temp: 0.3, aggregate: 'sum', clamp: [0.5, 1.5], normalize: true }, 'trace'],
      [{ ...LLM, temp: 2, per_step: { clip_ratio: [0.8, 1.25] } }, 'trace'],
      [LLM, 'per_step'],
      [{ ...LLM, step_clip: [0.9, 1.1] }, 'per_step']
    ]
    for (const [s, v] of variants) {
      const a = byoWeights(ds, ref, pol, s, v, { cache })
      const b = byoWeights(ds, ref, pol, s, v)
      expect(Array.from(a.logWRaw)).toEqual(Array.from(b.logWRaw))
      expect(Array.from(a.w)).toEqual(Array.from(b.w))
      expect(a.stats).toEqual(b.stats)
    }
    expect(cache.size).toBe(5) // trace mean none, trace sum none, trace mean clip_ratio, two step clips
  })
})
