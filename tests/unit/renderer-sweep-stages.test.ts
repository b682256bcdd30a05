// The renderer's pure helpers for sweeps (lib/sweep.ts: a 2-D grid as one line per value of the
// second axis, sorted along x, with its band and seed points) and the weight stages of a
// snapshot (lib/weight-stages.ts), against numbers worked out by hand.
import { describe, expect, it } from 'vitest'
import type { SnapshotData, SweepPointResult } from '../../src/shared/contract.ts'
import { sweepAxis, sweepKeys, sweepSeries, sweepTraces } from '../../src/renderer/src/lib/sweep.ts'
import { batchRows, stageHistogramTraces, underMass, weightStages } from '../../src/renderer/src/lib/weight-stages.ts'

const point = (temp: number, beta: number, values: number[], mean: number, std: number): SweepPointResult => ({
  params: { 'weights.temp': temp, 'weights.q.beta': beta },
  metric: 'score',
  mean,
  std,
  seeds: values.length,
  values,
  ess_n_final: 0.5,
  run_ids: [],
  warnings: []
})

describe('a sweep as the Compare view draws it', () => {
  // grid temp × beta, listed with temp slowest but temps out of order
  const results = [point(10, 0.9, [1, 3], 2, Math.SQRT2), point(10, 0.99, [4, 4], 4, 0), point(1, 0.9, [0, 2], 1, Math.SQRT2), point(1, 0.99, [5, 7], 6, Math.SQRT2)]
  it('one series per value of the other key, sorted along x', () => {
    expect(sweepKeys(results)).toEqual(['weights.temp', 'weights.q.beta'])
    const s = sweepSeries(results, 'weights.temp')
    expect(s.map((x) => x.label)).toEqual(['weights.q.beta=0.9', 'weights.q.beta=0.99'])
    expect(s[0].points.map((p) => p.params['weights.temp'])).toEqual([1, 10])
    // against the other key: one series per temperature
    expect(sweepSeries(results, 'weights.q.beta').map((x) => x.label)).toEqual(['weights.temp=10', 'weights.temp=1'])
  })
  it('per series: a band at mean ± std, the mean line and every seed', () => {
    const t = sweepTraces(results, 'weights.temp', ['#000000', '#ffffff']) as Array<{ meta: string; x: unknown[]; y: number[] }>
    expect(t.map((x) => x.meta)).toEqual(['band', 'band', 'mean', 'seeds', 'band', 'band', 'mean', 'seeds'])
    expect(t[2].x).toEqual([1, 10])
    expect(t[2].y).toEqual([1, 2])
    expect(t[0].y).toEqual([1 - Math.SQRT2, 2 - Math.SQRT2])
    expect(t[1].y).toEqual([1 + Math.SQRT2, 2 + Math.SQRT2])
    expect(t[3].x).toEqual([1, 1, 10, 10])
    expect(t[3].y).toEqual([0, 2, 1, 3])
    expect(t[6].y).toEqual([6, 4])
  })
  it('along values without an order: markers with ±std error bars, no band', () => {
    const byMethod = [
      { ...results[0], params: { method: 'sft' } },
      { ...results[1], params: { method: 'iw-sft' } }
    ]
    const t = sweepTraces(byMethod, 'method', ['#000000']) as Array<{ meta: string; mode?: string; x: unknown[]; error_y?: { array: number[] } }>
    expect(t.map((x) => x.meta)).toEqual(['mean', 'seeds'])
    expect(t[0].mode).toBe('markers')
    expect(t[0].x).toEqual(['sft', 'iw-sft'])
    expect(t[0].error_y!.array).toEqual([Math.SQRT2, 0])
  })
  it('a log axis when the values span two decades, ticks at the swept values; categories for text', () => {
    expect(sweepAxis(results, 'weights.temp')).toEqual({ type: 'linear', tickvals: [1, 10] })
    expect(sweepAxis([point(0.01, 0.9, [1], 1, 0), point(3, 0.9, [1], 1, 0)], 'weights.temp')).toEqual({ type: 'log', tickvals: [0.01, 3] })
    expect(sweepAxis([{ ...results[0], params: { method: 'sft' } }], 'method')).toEqual({ type: 'category' })
  })
})

describe('the stages of a snapshot', () => {
  // raw w = 4, 1, 1/4; clamp [0, 2] → 2, 1, 1/4; masses 1, 2, 1; no normalisation
  const snap: SnapshotData = {
    runId: 1,
    step: 5,
    traceIndex: [10, 11, 12],
    logWRaw: [Math.log(4), 0, Math.log(0.25)],
    w: [2, 1, 0.25],
    version: 2,
    wClamped: [2, 1, 0.25],
    mass: [1, 2, 1],
    batch: { traceIndex: [10, 11, 11], w: [2, 1, 1] },
    clamp: [0, 2],
    scores: [3, 2, 1]
  }
  it('ESS/N of each stage, worked by hand', () => {
    const st = weightStages(snap, false)
    expect(st.map((s) => s.stage)).toEqual(['raw', 'clamped', 'loss', 'batch'])
    // raw: (4 + 1 + 1/4)² / (3 · (16 + 1 + 1/16)) = 27.5625 / 51.1875
    expect(st[0].ess_n).toBeCloseTo(27.5625 / 51.1875, 12)
    expect(st[0].logw_max).toBeCloseTo(Math.log(4), 12)
    // clamped: (3.25)² / (3 · 5.0625)
    expect(st[1].ess_n).toBeCloseTo(10.5625 / 15.1875, 12)
    // in the loss, the middle trace twice: (2 + 1 + 1 + 1/4)² / (4 · (4 + 1 + 1 + 1/16))
    expect(st[2].n).toBe(4)
    expect(st[2].ess_n).toBeCloseTo(18.0625 / 24.25, 12)
    expect(st[2].mean_w).toBeCloseTo(4.25 / 4, 12)
    // batch rows 2, 1, 1: 16 / (3 · 6)
    expect(st[3].ess_n).toBeCloseTo(16 / 18, 12)
    expect(underMass([5, 6], [2, 1])).toEqual([5, 5, 6])
  })
  it('one histogram per stage on shared edges: every trace (or copy, or row) binned once', () => {
    const st = weightStages(snap, false)
    const sum = (name: 'raw' | 'clamped' | 'loss' | 'batch'): number => (stageHistogramTraces(st, name)[0] as { y: number[] }).y.reduce((a, b) => a + b, 0)
    expect([sum('raw'), sum('clamped'), sum('loss'), sum('batch')]).toEqual([3, 3, 4, 3])
    const x = (name: 'raw' | 'batch'): number[] => (stageHistogramTraces(st, name)[0] as { x: number[] }).x
    expect(x('raw')).toEqual(x('batch'))
  })
  it('the batch rows beside their trace’s score, mass, raw and clamped weight', () => {
    expect(batchRows(snap)[1]).toEqual({ row: 1, traceIndex: 11, score: 2, mass: 2, logWRaw: 0, wClamped: 1, w: 1 })
  })
  it('a version-1 snapshot: three stages, the clamp worked out from log w raw', () => {
    const st = weightStages({ ...snap, version: 1, wClamped: undefined, mass: undefined, batch: undefined }, true)
    expect(st.map((s) => s.stage)).toEqual(['raw', 'clamped', 'loss'])
    st[1].values.forEach((v, i) => expect(v).toBeCloseTo([2, 1, 0.25][i], 12))
    expect(st[2].n).toBe(3)
  })
})
