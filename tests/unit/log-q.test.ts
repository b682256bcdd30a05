// The sources of log q (train/log-q.ts) against values worked by hand, on a one-parameter policy
// with log π(a_t) = θ · a_t: q = current, an EMA θ_q, a periodic copy, and the cache of
// weights.q_refresh in front of them.
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { fromTraces } from '../../src/main/common/trace.ts'
import { gatherBatch, gatherStepSample, maskedSteps, toDevice, disposeBatch, type HostBatch } from '../../src/main/engine/data/batch.ts'
import type { Batch, Policy } from '../../src/main/engine/policies/policy.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { createLogQ, type LogQ } from '../../src/main/engine/train/log-q.ts'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

/** log π(a_t|s_t) = θ · a_t (not a normalised distribution: log q never needs one) */
class OneParam implements Policy {
  readonly spec = { kind: 'one-param', obsDim: 0, actDim: 1 }
  readonly variables: tf.Variable[]
  constructor(theta: number, trainable = true) {
    this.variables = [tf.variable(tf.scalar(theta), trainable)]
  }
  get theta(): number {
    return this.variables[0].dataSync()[0]
  }
  set theta(v: number) {
    this.variables[0].assign(tf.scalar(v))
  }
  logProbs(batch: Batch): tf.Tensor2D {
    return tf.tidy(() => tf.mul(tf.squeeze(batch.actions, [2]), this.variables[0]) as tf.Tensor2D)
  }
  act(): never {
    throw new Error('not used')
  }
  clone(trainable: boolean): OneParam {
    return new OneParam(this.theta, trainable)
  }
  dispose(): void {
    for (const v of this.variables) v.dispose()
  }
}

// three traces; actions are the step values a_t (padding reads 0)
const ds = fromTraces('t', 'continuous', 0, 1, [
  { actions: [1, 2, 3], score: 0 },
  { actions: [4], score: 0 },
  { actions: [5, 6], score: 0 }
])
const ALL = new Uint8Array([1, 1, 1])
// θ · a on the padded [3, 3] grid of all three traces
const grid = (theta: number): number[] => [1, 2, 3, 4, 0, 0, 5, 6, 0].map((a) => theta * a)

/** log q at the gradient batch of all three traces (null: stop-gradient of π_θ) */
function atBatch(q: LogQ, host: HostBatch = gatherBatch(ds, [0, 1, 2])): number[] | null {
  const b = toDevice(host, ds)
  const t = q.atBatch(host, b)
  disposeBatch(b)
  if (!t) return null
  const v = Array.from(t.dataSync())
  t.dispose()
  return v
}
const along = (q: LogQ): number[] => Array.from(q.alongTrajectories(gatherBatch(ds, [0, 1, 2])))

/** run steps s = 0.. with θ set to thetas[s] before each step begins; log q at the batch after each */
function steps(q: LogQ, theta: OneParam, thetas: number[]): Array<number[] | null> {
  return thetas.map((v, s) => {
    theta.theta = v
    q.beginStep(s)
    return atBatch(q)
  })
}

describe('log q sources', () => {
  it('current: no log q of its own at the batch (stop-gradient of π_θ), π_θ along trajectories', () => {
    const theta = new OneParam(1)
    const q = createLogQ({ q: { kind: 'current' }, q_refresh: null }, theta, ds, ALL)
    expect(q.q).toBe(theta)
    expect(steps(q, theta, [3, 5])).toEqual([null, null])
    expect(along(q)).toEqual(grid(5))
    expect(q.getState()).toBeNull()
    q.dispose()
    theta.dispose()
  })

  it('EMA: θ_q ← β θ_q + (1−β) θ at the start of every step', () => {
    const theta = new OneParam(1)
    const q = createLogQ({ q: { kind: 'ema', beta: 0.75 }, q_refresh: null }, theta, ds, ALL)
    // θ_q starts at θ = 1; then 0.75·1 + 0.25·3 = 1.5; 0.75·1.5 + 0.25·5 = 2.375; a fixed point
    // when θ = θ_q (all exact in float32)
    expect(steps(q, theta, [3, 5, 2.375])).toEqual([grid(1.5), grid(2.375), grid(2.375)])
    expect(along(q)).toEqual(grid(2.375))
    expect(q.getState()!.map((a) => Array.from(a))).toEqual([[2.375]])
    // θ itself is untouched
    expect(theta.theta).toBe(2.375)
    q.dispose()
    theta.dispose()
  })

  it('periodic: θ_q ← θ only on its period (Algorithm 1)', () => {
    const theta = new OneParam(1)
    const q = createLogQ({ q: { kind: 'periodic', every: 2 }, q_refresh: null }, theta, ds, ALL)
    // copies at s = 0 and s = 2 only
    expect(steps(q, theta, [3, 5, 7, 9])).toEqual([grid(3), grid(3), grid(7), grid(7)])
    // a checkpoint's θ_q is restored as given
    q.setState([Float32Array.of(4)])
    expect(atBatch(q)).toEqual(grid(4))
    q.dispose()
    theta.dispose()
  })

  it('cache (q_refresh): log q of the curated traces rescored on its period, read in between', () => {
    const theta = new OneParam(1)
    // trace 1 is not curated: never scored, reads 0
    const q = createLogQ({ q: { kind: 'current' }, q_refresh: 2 }, theta, ds, new Uint8Array([1, 0, 2]))
    const curatedGrid = (v: number): number[] => grid(v).map((x, i) => (i >= 3 && i < 6 ? 0 : x))
    expect(steps(q, theta, [3, 5, 7])).toEqual([curatedGrid(3), curatedGrid(3), curatedGrid(7)])
    theta.theta = 9
    q.beginStep(3)
    // along whole trajectories it reads the cache too (π_θ itself would give 9 · a)
    expect(along(q)).toEqual(curatedGrid(7))
    // a step-sampled batch reads the cache at its sampled steps
    const rng = new Rng(1)
    const h = gatherStepSample(ds, [0, 2], 4, maskedSteps(ds), () => rng.next())
    expect(atBatch(q, h)).toEqual(Array.from(h.actions, (a) => 7 * a))
    q.dispose()
    theta.dispose()
  })

  it('cache in front of a periodic q with the same period is exact', () => {
    const thetas = [3, 5, 7, 9, 11]
    const run = (q_refresh: number | null): Array<number[] | null> => {
      const theta = new OneParam(1)
      const q = createLogQ({ q: { kind: 'periodic', every: 2 }, q_refresh }, theta, ds, ALL)
      const out = steps(q, theta, thetas)
      q.dispose()
      theta.dispose()
      return out
    }
    expect(run(2)).toEqual([grid(3), grid(3), grid(7), grid(7), grid(11)])
    expect(run(2)).toEqual(run(null))
  })
})
