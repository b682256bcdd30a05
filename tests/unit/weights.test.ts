// Reproduces every worked example of tests/fixtures/weight-vectors.json (copied from
// shared/testdata) with the engine's one weight implementation, in float32. All traces of a
// case go in one padded batch, so batches larger than 1 with traces of different lengths
// are exercised (a defect of the authors' code).
import * as tf from '@tensorflow/tfjs'
import { readFileSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { clampFraction, effectiveSampleSize } from '../../src/shared/weight-stats.ts'
import { clampedWeight, logWeightRaw, perStepWeight, untaped, type TraceWeightSettings } from '../../src/main/engine/weights.ts'

interface Trace {
  logq: number[]
  logref: number[]
  mask: number[]
}
interface Case {
  name: string
  settings: Record<string, unknown>
  traces: Trace[]
  expected: Record<string, number | number[] | number[][]>
}
const cases: Case[] = JSON.parse(readFileSync(new URL('../fixtures/weight-vectors.json', import.meta.url), 'utf8')).cases

function pad(traces: Trace[], key: 'logq' | 'logref' | 'mask', fill: number): tf.Tensor2D {
  const T = Math.max(...traces.map((t) => t.mask.length))
  // padding values that would be wrong if the mask were ignored
  return tf.tensor2d(traces.map((t) => [...t[key], ...Array(T - t[key].length).fill(fill)]))
}

const close = (a: ArrayLike<number>, b: number[], rel = 1e-5): void => {
  expect(a.length).toBe(b.length)
  for (let i = 0; i < b.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(b[i])))
}

beforeAll(async () => {
  await tf.setBackend('cpu')
})

describe('weight-vectors.json', () => {
  expect(cases.length).toBeGreaterThanOrEqual(9)
  for (const c of cases.filter((c) => c.settings.variant !== 'per_step')) {
    it(c.name, () => {
      const s = c.settings as unknown as TraceWeightSettings & { per_step: null | { clip_ratio: [number, number] } }
      const settings: TraceWeightSettings = { temp: s.temp, aggregate: s.aggregate, per_step: s.per_step, clamp: s.clamp, normalize: s.normalize }
      const logq = pad(c.traces, 'logq', 50)
      const logref = pad(c.traces, 'logref', -50)
      const mask = pad(c.traces, 'mask', 0)
      const raw = logWeightRaw(logq, logref, mask, settings)
      const w = clampedWeight(raw, settings)
      const rawV = raw.dataSync()
      const wV = w.dataSync()
      close(rawV, c.expected.log_w_raw as number[])
      close(wV, c.expected.w as number[])
      expect(effectiveSampleSize(wV)).toBeCloseTo(c.expected.ess as number, 5)
      expect(effectiveSampleSize(wV) / wV.length).toBeCloseTo(c.expected.ess_fraction as number, 5)
      expect(clampFraction(rawV, settings.clamp)).toBeCloseTo(c.expected.clamp_fraction as number, 10)
      for (const v of wV) expect(Number.isFinite(v)).toBe(true)
    })
  }
  for (const c of cases.filter((c) => c.settings.variant === 'per_step')) {
    it(c.name, () => {
      const clip = c.settings.clip_ratio as [number, number]
      const w = perStepWeight(pad(c.traces, 'logq', 0), pad(c.traces, 'logref', 0), pad(c.traces, 'mask', 0), clip)
      const rows = w.arraySync()
      ;(c.expected.w_per_step as number[][]).forEach((row, i) => close(rows[i], row))
    })
  }
})

describe('weights by hand', () => {
  it('k = temp/|τ| uses only masked steps, so padding a trace does not change its weight', () => {
    const s: TraceWeightSettings = { temp: 2, aggregate: 'mean', per_step: null, clamp: [0, 100], normalize: false }
    // ρ = [1, 3] → mean 2 → log w = 2·2 = 4
    const alone = logWeightRaw(tf.tensor2d([[0, 0]]), tf.tensor2d([[-1, -3]]), tf.tensor2d([[1, 1]]), s).dataSync()[0]
    const padded = logWeightRaw(tf.tensor2d([[0, 0, 9, 9]]), tf.tensor2d([[-1, -3, 0, 0]]), tf.tensor2d([[1, 1, 0, 0]]), s).dataSync()[0]
    expect(alone).toBeCloseTo(4, 6)
    expect(padded).toBeCloseTo(4, 6)
  })
  it('self-normalises in log space: weights far below float range still give mean 1', () => {
    const s: TraceWeightSettings = { temp: 1, aggregate: 'sum', per_step: null, clamp: [0, 16], normalize: true }
    // exp(-200) underflows to 0 in float32, but w_i·B/Σw = [1/4, 3/4]·2 = [0.5, 1.5]
    const w = clampedWeight(tf.tensor1d([-200, -200 + Math.log(3)]), s).dataSync()
    close(w, [0.5, 1.5], 1e-4)
  })
})

describe('untaped (the weights under the gradient tape)', () => {
  it('what it computes is a constant to the gradient, and its extra outputs outlive the tidy', () => {
    const x = tf.variable(tf.tensor1d([1, 2, 3]))
    let kept: tf.Tensor | null = null
    const { value, grads } = tf.variableGrads(() => {
      // L = Σ x · c with c = 2x held constant: dL/dx = c = 2x (4x if c were differentiated)
      const [c, extra] = untaped(() => [tf.mul(x, 2), tf.add(x, 1)])
      kept = extra
      return tf.sum(tf.mul(x, c)) as tf.Scalar
    }, [x])
    expect(value.dataSync()[0]).toBeCloseTo(2 * (1 + 4 + 9), 5)
    expect(Array.from(grads[x.name].dataSync())).toEqual([2, 4, 6])
    expect(Array.from(kept!.dataSync())).toEqual([2, 3, 4])
    tf.dispose([value, grads[x.name], kept!, x])
  })
})
