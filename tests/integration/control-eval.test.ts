// Evaluation of control policies: online in the MuJoCo tasks (vectorised, deterministic,
// normalised score) and offline on data without an environment (held-out log-likelihood and
// action error), with a tiny linear-Gaussian policy defined here.
import * as tf from '@tensorflow/tfjs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { importHdf5 } from '../../src/main/engine/data/import-hdf5.ts'
import { fromTraces } from '../../src/main/common/trace.ts'
import { evaluatePolicy, offlineEval } from '../../src/main/engine/eval/control-eval.ts'
import { getTask } from '../../src/main/engine/envs/registry.ts'
import type { Batch, Policy, PolicySpec } from '../../src/main/engine/policies/policy.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { minariEpisodes, writeMinari } from '../fixtures/control/h5-fixtures.ts'

/** π(a|s) = N(clip(W s + b), diag σ²): mean W s + b (clipped to [−1, 1] when acting only if
 *  `clipAct`), one log-std per action dimension. */
class LinearGaussian implements Policy {
  readonly spec: PolicySpec
  readonly variables: tf.Variable[]
  constructor(
    readonly obsDim: number,
    readonly actDim: number,
    W: number[], // actDim × obsDim, row-major
    b: number[],
    logStd: number[]
  ) {
    this.spec = { kind: 'test-linear-gaussian', obsDim, actDim }
    this.variables = [tf.variable(tf.tensor2d(W, [actDim, obsDim]).transpose(), false), tf.variable(tf.tensor1d(b), false), tf.variable(tf.tensor1d(logStd), false)]
  }
  logProbs(batch: Batch): tf.Tensor2D {
    return tf.tidy(() => {
      const n = batch.B * batch.T
      const mu = tf.add(tf.matMul(tf.reshape(batch.obs!, [n, this.obsDim]), this.variables[0]), this.variables[1])
      const ls = this.variables[2]
      const z = tf.div(tf.sub(tf.reshape(batch.actions, [n, this.actDim]), mu), tf.exp(ls))
      const lp = tf.sub(tf.sum(tf.mul(tf.square(z), -0.5), 1), tf.add(tf.sum(ls), 0.5 * this.actDim * Math.log(2 * Math.PI)))
      return tf.reshape(lp, [batch.B, batch.T]) as tf.Tensor2D
    })
  }
  act(obs: Float32Array, n: number, rng: Rng, deterministic: boolean): Float32Array {
    const W = this.variables[0].dataSync()
    const b = this.variables[1].dataSync()
    const ls = this.variables[2].dataSync()
    const out = new Float32Array(n * this.actDim)
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < this.actDim; j++) {
        let v = b[j]
        for (let k = 0; k < this.obsDim; k++) v += obs[i * this.obsDim + k] * W[k * this.actDim + j]
        if (!deterministic) v += Math.exp(ls[j]) * rng.normal()
        out[i * this.actDim + j] = v
      }
    }
    return out
  }
  clone(): Policy {
    throw new Error('not needed')
  }
  dispose(): void {
    this.variables.forEach((v) => v.dispose())
  }
}

const dir = mkdtempSync(join(tmpdir(), 'iwsft-ctl-eval-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('evaluatePolicy (online, vectorised)', () => {
  const pd = (): LinearGaussian => new LinearGaussian(4, 1, [0.5, 3, 0.5, 0.6], [0], [Math.log(0.3)])
  const zero = (): LinearGaussian => new LinearGaussian(4, 1, [0, 0, 0, 0], [0], [0])

  it('a balancing controller scores near 100, doing nothing scores near 0', async () => {
    const good = await evaluatePolicy('cartpole', pd(), { episodes: 10, seed: 1, deterministic: true })
    const bad = await evaluatePolicy('cartpole', zero(), { episodes: 10, seed: 1, deterministic: true })
    expect(good.returns.length).toBe(10)
    expect(good.lengths.every((l) => l === 500)).toBe(true)
    expect(good.normalizedScore).toBeGreaterThan(90)
    expect(bad.normalizedScore).toBeLessThan(15)
    const { random, expert } = getTask('cartpole').refReturns
    expect(good.normalizedScore).toBeCloseTo((100 * (good.meanReturn - random)) / (expert - random), 9)
    const m = good.returns.reduce((a, b) => a + b, 0) / 10
    expect(good.meanReturn).toBeCloseTo(m, 9)
    expect(good.stdReturn).toBeCloseTo(Math.sqrt(good.returns.reduce((a, b) => a + (b - m) ** 2, 0) / 10), 9)
  })

  it('deterministic evaluation is reproducible and independent of the number of copies', async () => {
    const a = await evaluatePolicy('pendulum', new LinearGaussian(3, 1, [0.2, -1, -0.3], [0.1], [0]), { episodes: 6, seed: 9 })
    const b = await evaluatePolicy('pendulum', new LinearGaussian(3, 1, [0.2, -1, -0.3], [0.1], [0]), { episodes: 6, seed: 9, copies: 1 })
    expect(b.returns).toEqual(a.returns)
    const s1 = await evaluatePolicy('pendulum', new LinearGaussian(3, 1, [0.2, -1, -0.3], [0.1], [0]), { episodes: 6, seed: 9, deterministic: false })
    expect(s1.returns).not.toEqual(a.returns)
  })

  it('refuses a policy of the wrong shape', async () => {
    await expect(evaluatePolicy('hopper', pd(), { episodes: 1, seed: 0 })).rejects.toThrow(/task hopper needs 11 \/ 3/)
  })
})

describe('offlineEval (no environment)', () => {
  // data from a = W* s + b* + σ ε, σ = 0.2, with s ~ N(0, 1)
  const Wstar = [0.5, -0.3, 0.2, 0.1, 0.4, -0.6]
  const bstar = [0.1, -0.2]
  const sigma = 0.2
  const rng = new Rng(4)
  const traces = Array.from({ length: 40 }, (_, i) => {
    const T = 20 + (i % 7)
    const obs = new Float32Array(T * 3)
    const actions = new Float32Array(T * 2)
    for (let t = 0; t < T; t++) {
      for (let k = 0; k < 3; k++) obs[t * 3 + k] = rng.normal()
      for (let j = 0; j < 2; j++) {
        let v = bstar[j] + sigma * rng.normal()
        for (let k = 0; k < 3; k++) v += Wstar[j * 3 + k] * obs[t * 3 + k]
        actions[t * 2 + j] = v
      }
    }
    return { obs, actions, score: i }
  })
  const ds = fromTraces('synthetic', 'continuous', 3, 2, traces)
  const heldOut = Array.from({ length: 20 }, (_, i) => 20 + i)

  it('the true policy gets the Gaussian log-likelihood and MSE ≈ σ²; a wrong one does worse', () => {
    const truth = new LinearGaussian(3, 2, Wstar, bstar, [Math.log(sigma), Math.log(sigma)])
    const r = offlineEval(truth, ds, heldOut, { batchTraces: 7 })
    const steps = heldOut.reduce((s, i) => s + ds.offsets[i + 1] - ds.offsets[i], 0)
    expect(r.steps).toBe(steps)
    expect(r.traces).toBe(20)
    // E[log N(a | μ, σ²)] over 2 dims = 2 · (−½ log 2πσ² − ½)
    const expected = 2 * (-0.5 * Math.log(2 * Math.PI * sigma * sigma) - 0.5)
    expect(Math.abs(r.meanLogLik - expected)).toBeLessThan(0.1)
    expect(Math.abs(r.actionError - sigma * sigma) / (sigma * sigma)).toBeLessThan(0.15)
    const wrong = new LinearGaussian(
      3,
      2,
      Wstar.map((w) => -w),
      bstar,
      [Math.log(sigma), Math.log(sigma)]
    )
    const w = offlineEval(wrong, ds, heldOut)
    expect(w.meanLogLik).toBeLessThan(r.meanLogLik - 5)
    expect(w.actionError).toBeGreaterThan(r.actionError + 0.3)
    // padded steps do not count: batching differently gives the same numbers
    const r1 = offlineEval(truth, ds, heldOut, { batchTraces: 1 })
    expect(r1.meanLogLik).toBeCloseTo(r.meanLogLik, 4)
    expect(r1.actionError).toBeCloseTo(r.actionError, 6)
  })

  it('works on an imported Minari file, and refuses bad indices and shapes', async () => {
    const file = join(dir, 'm.h5')
    const spec = { lengths: [4, 6, 5], obsDim: 3, actDim: 2 }
    await writeMinari(file, minariEpisodes(spec), spec)
    const imported = await importHdf5(file)
    const p = new LinearGaussian(3, 2, [0, 0, 0, 0, 0, 0], [0, 0], [0, 0])
    const r = offlineEval(p, imported, [1, 2])
    // zero mean action: the error is the mean squared data action
    let sq = 0
    for (let s = imported.offsets[1]; s < imported.offsets[3]; s++) sq += (imported.actions[2 * s] ** 2 + imported.actions[2 * s + 1] ** 2) / 2
    expect(r.actionError).toBeCloseTo(sq / 11, 5)
    expect(r.steps).toBe(11)
    expect(() => offlineEval(p, imported, [3])).toThrow(/held-out trace index 3 is outside 0\.\.2/)
    expect(() => offlineEval(p, imported, [])).toThrow(/no held-out traces/)
    expect(() => offlineEval(new LinearGaussian(4, 1, [0, 0, 0, 0], [0], [0]), imported, [0])).toThrow(/obsDim 3 \/ actDim 2/)
  })
})

describe('replayEpisode (plots over time and a drawing)', () => {
  it('records obs, actions, rewards and geom poses; the hopper torso starts at z ≈ 1.25', async () => {
    const { replayEpisode, evaluatePolicy: ev } = await import('../../src/main/engine/eval/control-eval.ts')
    const p = new LinearGaussian(11, 3, new Array(33).fill(0), [0, 0, 0], [0, 0, 0])
    const r = await replayEpisode('hopper', p, { seed: 3 })
    expect(r.obs.length).toBe(r.length * 11)
    expect(r.actions.length).toBe(r.length * 3)
    expect(r.rewards.length).toBe(r.length)
    expect(r.ret).toBeCloseTo(
      r.rewards.reduce((a, b) => a + b, 0),
      3
    )
    const names = r.geoms.map((g) => g.name)
    expect(names).toEqual(['floor', 'torso', 'thigh', 'leg', 'foot'])
    const torso = names.indexOf('torso')
    const G = r.geoms.length
    expect(r.poses.length).toBe((r.length + 1) * G * 12)
    expect(r.poses[torso * 12 + 2]).toBeCloseTo(1.25, 2)
    // without control the hopper falls: the last recorded torso height is below the start
    expect(r.terminated).toBe(true)
    expect(r.poses[r.length * G * 12 + torso * 12 + 2]).toBeLessThan(1.2)
    expect(r.dt).toBeCloseTo(0.008, 9)
    // episode 0 of a vectorised evaluation with seed 7 is reset(episodeSeed(7, 0)): same return
    const { episodeSeed } = await import('../../src/main/engine/envs/registry.ts')
    const again = await replayEpisode('hopper', p, { seed: episodeSeed(7, 0) })
    const e = await ev('hopper', p, { episodes: 1, seed: 7 })
    expect(e.returns[0]).toBe(again.ret)
  })
})
