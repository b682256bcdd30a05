// Weight diagnostics against numbers worked out by hand (in the comments), and a stored run's
// diagnostics read back from a snapshot, its curation, its logged ESS/N and its reference.
import { afterAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  clampWeights,
  effectiveTraces,
  essFraction,
  gaussianActionStd,
  meanRhoPerStep,
  topShare,
  traceWeightDiagnostics,
  weightShares,
  weightWarnings
} from '../../src/main/engine/weights-diagnostics.ts'
import { fromTraces } from '../../src/main/common/trace.ts'
import { openProject } from '../../src/main/store/index.ts'
import { resolveConfig } from '../../src/shared/config.ts'
import { runWeightDiagnostics, summarizeDiagnostics } from '../../src/main/suites/diagnostics.ts'

// four curated traces: raw log w = [ln 2, 0, ln 0.5, 10], clamp [0, 4] → w = [2, 1, 0.5, 4]
const RAW = [Math.log(2), 0, Math.log(0.5), 10]

describe('weight diagnostics by hand', () => {
  it('clamps in log space', () => {
    const w = clampWeights(RAW, [0, 4])
    expect(Array.from(w)).toEqual([2, 1, 0.5, 4].map((v) => expect.closeTo(v, 12)))
    expect(clampWeights([1e6, -1e6], [0.1, 16])[0]).toBeCloseTo(16, 12)
    expect(clampWeights([1e6, -1e6], [0.1, 16])[1]).toBeCloseTo(0.1, 12)
  })

  it('ESS/N over the multiset, shares, top-k, effective traces', () => {
    const w = [2, 1, 0.5, 4]
    const mass = [1, 2, 1, 3]
    // μw = [2, 2, 0.5, 12], Σ μw = 16.5, Σ μ = 7, Σ μw² = 4 + 2 + 0.25 + 48 = 54.25
    // ESS = 16.5² / 54.25 = 5.018433…, ESS/N = 0.716919…
    expect(essFraction(w, mass)).toBeCloseTo(272.25 / 54.25 / 7, 12)
    // equal weights: ESS/N = 1 whatever the multiplicities
    expect(essFraction([3, 3, 3], [1, 2, 3])).toBeCloseTo(1, 12)
    const s = weightShares(w, mass)
    expect(Array.from(s)).toEqual([2, 2, 0.5, 12].map((v) => expect.closeTo(v / 16.5, 12)))
    expect(topShare(s, 1)).toBeCloseTo(12 / 16.5, 12)
    expect(topShare(s, 2)).toBeCloseTo(14 / 16.5, 12)
    expect(topShare(s, 5)).toBeCloseTo(1, 12)
    // 1 / Σ s² = 16.5² / (4 + 4 + 0.25 + 144) = 272.25 / 152.25
    expect(effectiveTraces(s)).toBeCloseTo(272.25 / 152.25, 12)
  })

  it('mean ρ per step from the raw log weight', () => {
    // "mean": log w / temp = [0.34657, 0, −0.34657, 5] → mean 1.25
    expect(meanRhoPerStep(RAW, 2, 'mean', [1, 2, 2, 5])).toBeCloseTo(1.25, 12)
    // "sum": log w / (temp·|τ|) = [ln2/2, 0, −ln2/4, 1] → (ln2/4 + 1)/4
    expect(meanRhoPerStep(RAW, 2, 'sum', [1, 2, 2, 5])).toBeCloseTo((Math.log(2) / 4 + 1) / 4, 12)
  })

  it('the whole set: clamp fraction and share, Spearman with score and bin', () => {
    const d = traceWeightDiagnostics({ logWRaw: RAW, mass: [1, 2, 1, 3], bin: [1, 2, 1, 3], score: [5, 7, 4, 9], length: [1, 2, 2, 5], clamp: [0, 4], temp: 2, aggregate: 'mean' })
    expect(d.traces).toBe(4)
    expect(d.ess_n).toBeCloseTo(272.25 / 54.25 / 7, 12)
    // only raw 10 > ln 4 is clamped: 1 of 4, holding 12 / 16.5 of the weight
    expect(d.clamp_fraction).toBe(0.25)
    expect(d.clamp_share).toBeCloseTo(12 / 16.5, 12)
    // ranks of w [3, 2, 1, 4], of score [2, 3, 1, 4]: Σd² = 2, ρ = 1 − 6·2/(4·15) = 0.8
    expect(d.spearman_w_score).toBeCloseTo(0.8, 12)
    // ranks of bin [1.5, 3, 1.5, 4]: Pearson of ranks = 3 / √(5 · 4.5)
    expect(d.spearman_w_bin).toBeCloseTo(3 / Math.sqrt(22.5), 12)
    expect(d.top1_share).toBeCloseTo(12 / 16.5, 12)
    expect(d.mean_rho_per_step).toBeCloseTo(1.25, 12)
  })

  it('σ of a Gaussian policy from its clamped log-std', () => {
    expect(gaussianActionStd([-6, 0, 3], [-5, 2])).toEqual([Math.exp(-5), 1, Math.exp(2)])
  })

  it('warns below 0.2 (collapsed, with the number of traces) and above 0.98 (iw-SFT is SFT)', () => {
    expect(weightWarnings({ ess_n: 0.05, effective_traces: 2.2, traces: 48 })[0]).toMatch(/^weights collapsed onto 2 traces \(ESS\/N 0\.050/)
    expect(weightWarnings({ ess_n: 0.99, effective_traces: 40, traces: 48 })[0]).toMatch(/^weights ≈ 1: iw-SFT is SFT here/)
    expect(weightWarnings({ ess_n: 0.5, effective_traces: 20, traces: 48 })).toEqual([])
    expect(weightWarnings({ ess_n: 0.2, effective_traces: 20, traces: 48 })).toEqual([])
    expect(weightWarnings({ ess_n: 0.98, effective_traces: 20, traces: 48 })).toEqual([])
  })
})

describe("a stored run's diagnostics", () => {
  const dir = mkdtempSync(join(tmpdir(), 'iwsft-diag-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("reads the last snapshot, re-applies the curation, reads ESS/N over training and π_ref's σ", () => {
    const store = openProject(join(dir, 'p.iwsft'))
    // five traces, scores [1, 5, 7, 4, 9]; lengths 1, 1, 2, 2, 5
    const lens = [1, 1, 2, 2, 5]
    const scores = [1, 5, 7, 4, 9]
    const ds = fromTraces(
      'tiny',
      'continuous',
      1,
      1,
      scores.map((score, i) => ({ obs: new Array(lens[i]).fill(0), actions: new Array(lens[i]).fill(0.1), score }))
    )
    const { id: datasetId } = store.putDataset(ds, 'test:tiny')
    // the reference: a Gaussian policy checkpoint whose last parameter is log σ = [−6] → clamped to −5
    const bcConfig = resolveConfig({ dataset: 'tiny', domain: 'control', method: 'bc' })
    const bcId = store.createRun({ name: 'bc', config: bcConfig, datasetId, dataHash: null, backend: 'cpu', versions: {} })
    store.putCheckpoint(
      bcId,
      5,
      [
        { name: 'policy/0', shape: [1], data: Float32Array.from([0.3]) },
        { name: 'policy/1', shape: [1], data: Float32Array.from([-6]) }
      ],
      { policy: { kind: 'gaussian-mlp', logStdMin: -5, logStdMax: 2 }, refKey: null },
      {}
    )
    // quality bins at percentiles [25, 50, 75] of [1, 4, 5, 7, 9]: a = [4, 5, 7] → m = [0, 2, 3, 1, 3]
    const config = resolveConfig({
      dataset: 'tiny',
      domain: 'control',
      method: 'iw-sft-q',
      curation: { mode: 'quality_bins', cutoffs: [25, 50, 75] },
      reference: { kind: 'checkpoint', run: bcId },
      weights: { clamp: [0, 4], temp: 2 }
    })
    const runId = store.createRun({ name: 'iw', config, datasetId, dataHash: null, backend: 'cpu', versions: {} })
    store.appendMetrics(runId, [
      { step: 10, key: 'ess_fraction', value: 0.9 },
      { step: 20, key: 'ess_fraction', value: 0.4 }
    ])
    store.putWeightSnapshot(runId, { step: 20, traceIndex: Int32Array.from([1, 2, 3, 4]), logWRaw: Float32Array.from(RAW), w: Float32Array.from([2, 1, 0.5, 4]) })
    const d = runWeightDiagnostics(store, runId)!
    // μ = m = [2, 3, 1, 3], w = [2, 1, 0.5, 4]: μw = [4, 3, 0.5, 12], Σ = 19.5, Σμ = 9,
    // Σ μw² = 8 + 3 + 0.25 + 48 = 59.25 → ESS/N = 19.5² / 59.25 / 9
    expect(d.step).toBe(20)
    expect(d.ess_n_final).toBeCloseTo(380.25 / 59.25 / 9, 5)
    expect(d.top1_share).toBeCloseTo(12 / 19.5, 5)
    // scores of the curated traces [5, 7, 4, 9]: 0.8 as above; bins [2, 3, 1, 3] → 3/√22.5
    expect(d.spearman_w_score).toBeCloseTo(0.8, 6)
    expect(d.spearman_w_bin).toBeCloseTo(3 / Math.sqrt(22.5), 6)
    expect(d.ess_n_curve).toEqual([
      [10, 0.9],
      [20, 0.4]
    ])
    expect(d.ess_n_batch_final).toBeCloseTo(0.4, 6)
    expect(d.ref_action_std![0]).toBeCloseTo(Math.exp(-5), 9)
    expect(d.warnings).toEqual([])
    // a later snapshot with equal weights: iw-SFT is SFT here
    store.putWeightSnapshot(runId, { step: 30, traceIndex: Int32Array.from([1, 2, 3, 4]), logWRaw: new Float32Array(4), w: new Float32Array(4).fill(1) })
    const later = runWeightDiagnostics(store, runId)!
    expect(later.ess_n_final).toBeCloseTo(1, 6)
    expect(later.warnings[0]).toMatch(/iw-SFT is SFT here/)
    // the mean over seeds of what each has
    const sum = summarizeDiagnostics([d, later])
    expect(sum.ess_n_final).toBeCloseTo((380.25 / 59.25 / 9 + 1) / 2, 5)
    // BC has no weights to judge
    expect(runWeightDiagnostics(store, bcId)).toBeNull()
    store.close()
  })
})
