// The optimiser, the schedule, the loss normalisations and the Gaussian log-density, each
// against numbers worked out by hand.
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig } from '../../src/shared/config.ts'
import { weightedNll } from '../../src/main/engine/objectives/loss.ts'
import { maskLengths } from '../../src/main/engine/data/batch.ts'
import { logWeightRaw, type TraceWeightSettings } from '../../src/main/engine/weights.ts'
import { AdamOptimizer, learningRate } from '../../src/main/engine/train/optim.ts'
import { GaussianMlpPolicy } from '../../src/main/engine/policies/gaussian-mlp.ts'
import { Rng, WeightedSampler } from '../../src/main/engine/rng.ts'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

const optim = (o: Partial<ReturnType<typeof defaultConfig>['optim']>) => ({ ...defaultConfig('bandit').optim, ...o })

describe('learning-rate schedule', () => {
  it('linear warm-up then cosine to 0', () => {
    const o = optim({ lr: 1, warmup_steps: 10, schedule: 'cosine' })
    expect(learningRate(o, 0, 110)).toBeCloseTo(0.1, 12)
    expect(learningRate(o, 9, 110)).toBeCloseTo(1, 12)
    expect(learningRate(o, 10, 110)).toBeCloseTo(1, 12)
    expect(learningRate(o, 60, 110)).toBeCloseTo(0.5, 12) // halfway through the cosine
    expect(learningRate(o, 110, 110)).toBeCloseTo(0, 12)
  })
})

describe('Adam / AdamW', () => {
  it('first Adam step moves each parameter by lr·sign(g) (bias-corrected)', () => {
    const p = tf.variable(tf.tensor1d([1, -2]))
    const opt = new AdamOptimizer([p], optim({ kind: 'adam', lr: 0.1, eps: 1e-12 }))
    opt.step([tf.tensor1d([0.5, -3])], 0.1)
    const v = p.dataSync()
    expect(v[0]).toBeCloseTo(0.9, 6)
    expect(v[1]).toBeCloseTo(-1.9, 6)
  })
  it('AdamW decays θ directly: θ − lr(m̂/√v̂ + λθ)', () => {
    const p = tf.variable(tf.tensor1d([2]))
    const opt = new AdamOptimizer([p], optim({ kind: 'adamw', lr: 0.1, eps: 1e-12, weight_decay: 0.5 }))
    opt.step([tf.tensor1d([1])], 0.1)
    expect(p.dataSync()[0]).toBeCloseTo(2 - 0.1 * (1 + 0.5 * 2), 6)
  })
  it('clips the global gradient norm and reports the norm before clipping', () => {
    const p = tf.variable(tf.tensor1d([0, 0]))
    const opt = new AdamOptimizer([p], optim({ kind: 'adam', lr: 1, clip_grad_norm: 1 }))
    const n = opt.step([tf.tensor1d([3, 4])], 1)
    expect(n.dataSync()[0]).toBeCloseTo(5, 6)
  })
  it('leaves no tensor behind once disposed (moments m, v: 2 tensors per group of parameters)', () => {
    const p = tf.variable(tf.tensor1d([1, 2]))
    const before = tf.memory().numTensors
    const opt = new AdamOptimizer([p], optim({ kind: 'adam' }))
    expect(tf.memory().numTensors - before).toBe(2 + 8) // m, v, and its 8 constant scalars
    opt.dispose()
    expect(tf.memory().numTensors).toBe(before)
    p.dispose()
  })
})

describe('loss normalisations', () => {
  // trace A: logp [-1, -3] (2 steps), trace B: logp [-2] + 1 padded step
  const logp = () =>
    tf.tensor2d([
      [-1, -3],
      [-2, -100]
    ])
  const mask = () =>
    tf.tensor2d([
      [1, 1],
      [1, 0]
    ])
  it('"trace": per-trace mean then batch mean, weights per trace', () => {
    // means: A = -2, B = -2 ; weights [2, 0.5] → -(2·-2 + 0.5·-2)/2 = 2.5
    expect(weightedNll(logp(), mask(), null, null, 'trace').dataSync()[0]).toBeCloseTo(2, 6)
    expect(weightedNll(logp(), mask(), tf.tensor1d([2, 0.5]), null, 'trace').dataSync()[0]).toBeCloseTo(2.5, 6)
  })
  it('"token": Σ over masked steps / their count', () => {
    // -(−1 −3 −2)/3 = 2 ; weighted: -(2·(−4) + 0.5·(−2))/3 = 3
    expect(weightedNll(logp(), mask(), null, null, 'token').dataSync()[0]).toBeCloseTo(2, 6)
    expect(weightedNll(logp(), mask(), tf.tensor1d([2, 0.5]), null, 'token').dataSync()[0]).toBeCloseTo(3, 6)
  })
  it('per-step weights multiply each step, masks apply everywhere', () => {
    // A: (0.5·−1 + 1·−3)/2 = −1.75 ; B: (2·−2)/1 = −4 → −(−1.75 − 4)/2 = 2.875
    const w = tf.tensor2d([
      [0.5, 1],
      [2, 7]
    ])
    expect(weightedNll(logp(), mask(), null, w, 'trace').dataSync()[0]).toBeCloseTo(2.875, 6)
  })
})

describe('mask lengths counted on the host', () => {
  // 7 rows (−1/7 is not a float32; rounding −1/7 then dividing by 5 or 7 differs from rounding
  // −1/35 or −1/49, so a shortcut would show) of lengths 5, 7, 1, 0 (clamps to 1), 3, 8, 2
  const B = 7
  const T = 8
  const lens = [5, 7, 1, 0, 3, 8, 2]
  const hostMask = Float32Array.from({ length: B * T }, (_, i) => (i % T < lens[Math.floor(i / T)] ? 1 : 0))
  const logpVals = Array.from({ length: B * T }, (_, i) => -((i * 0.37) % 3) - 0.05)
  it('counts |τ| per row (at least 1) and the batch total (at least 1)', () => {
    const l = maskLengths(hostMask, B, T)
    expect(Array.from(l.perTrace)).toEqual([5, 7, 1, 1, 3, 8, 2])
    expect(l.total).toBe(26)
    expect(l.count).toBe(26)
    expect(maskLengths(new Float32Array(8), 2, 4)).toEqual({ perTrace: Float32Array.from([1, 1]), total: 1, count: 0 })
  })
  // the trainer passes them; the loss and the weights must give the same float32 numbers as
  // when they reduce the mask themselves: values and gradients compared bit for bit
  const variants = [
    { norm: 'trace', traceW: false, stepW: false },
    { norm: 'trace', traceW: true, stepW: false },
    { norm: 'trace', traceW: false, stepW: true },
    { norm: 'token', traceW: false, stepW: false },
    { norm: 'token', traceW: true, stepW: false },
    { norm: 'token', traceW: false, stepW: true }
  ] as const
  for (const v of variants) {
    it(`weightedNll ${v.norm}${v.traceW ? ', trace weights' : ''}${v.stepW ? ', step weights' : ''}: the same bits with and without them`, () => {
      const lengths = maskLengths(hostMask, B, T)
      const run = (withLengths: boolean): number[] =>
        tf.tidy(() => {
          const mask = tf.tensor2d(hostMask, [B, T])
          const traceW = v.traceW ? tf.tensor1d([0.7, 1.9, 0.4, 1, 2.3, 0.05, 1.1]) : null
          const stepW = v.stepW
            ? tf.tensor2d(
                logpVals.map((x) => 1 / (1 - x)),
                [B, T]
              )
            : null
          const { value, grads } = tf.variableGrads(() => weightedNll(tf.mul(x, 1.3) as tf.Tensor2D, mask, traceW, stepW, v.norm, withLengths ? lengths : undefined), [x])
          return [value.dataSync()[0], ...grads[x.name].dataSync()]
        })
      const x = tf.variable(tf.tensor2d(logpVals, [B, T]))
      const a = run(true)
      const b = run(false)
      x.dispose()
      expect(Float32Array.from(a)).toEqual(Float32Array.from(b))
      expect(a[0]).not.toBe(0)
    })
  }
  it('logWeightRaw: the same bits with and without them', () => {
    const l = maskLengths(hostMask, B, T)
    const s: TraceWeightSettings = { temp: 0.7, aggregate: 'mean', per_step: null, clamp: [0, 16], normalize: false }
    const raw = (withLengths: boolean): Float32Array =>
      tf.tidy(
        () =>
          logWeightRaw(
            tf.tensor2d(logpVals, [B, T]),
            tf.tensor2d(
              logpVals.map((x) => x * 1.1 - 0.03),
              [B, T]
            ),
            tf.tensor2d(hostMask, [B, T]),
            s,
            withLengths ? l.perTrace : undefined
          ).dataSync() as Float32Array
      )
    const a = raw(true)
    expect(a).toEqual(raw(false))
    // row 2 by hand (one step, logp −(0.37·16 mod 3) − 0.05 = −2.97): 0.7 · (0.1 · 2.97 + 0.03)
    expect(a[2]).toBeCloseTo(0.7 * (0.1 * 2.97 + 0.03), 5)
  })
})

describe('Gaussian MLP policy', () => {
  it('log π(a|s) = Σ_d −½((a−μ)/σ)² − log σ − ½ log 2π with μ = tanh(net(s))', () => {
    const pol = new GaussianMlpPolicy({ kind: 'gaussian-mlp', obsDim: 1, actDim: 2, hidden: [3], logStdMin: -5, logStdMax: 2 }, new Rng(0))
    // zero the network so μ = tanh(0) = 0; log σ = [0, log 2]
    for (const v of pol.variables.slice(0, -1)) v.assign(tf.zerosLike(v))
    pol.variables[pol.variables.length - 1].assign(tf.tensor1d([0, Math.log(2)]))
    const lp = pol
      .logProbs({
        B: 1,
        T: 1,
        obs: tf.tensor3d([[[0.3]]]),
        actions: tf.tensor3d([[[1, 2]]]),
        mask: tf.tensor2d([[1]]),
        traceIndex: new Int32Array([0])
      })
      .dataSync()[0]
    const expected = -0.5 * 1 - 0 - 0.5 * Math.log(2 * Math.PI) + (-0.5 * 1 - Math.log(2) - 0.5 * Math.log(2 * Math.PI))
    expect(lp).toBeCloseTo(expected, 5)
  })
  it('clamps the log-std to [min, max]', () => {
    const pol = new GaussianMlpPolicy({ kind: 'gaussian-mlp', obsDim: 1, actDim: 1, hidden: [2], logStdMin: -1, logStdMax: 0.5 }, new Rng(0))
    for (const v of pol.variables.slice(0, -1)) v.assign(tf.zerosLike(v))
    pol.variables[pol.variables.length - 1].assign(tf.tensor1d([5]))
    const lp = pol.logProbs({ B: 1, T: 1, obs: tf.tensor3d([[[0]]]), actions: tf.tensor3d([[[0]]]), mask: tf.tensor2d([[1]]), traceIndex: new Int32Array([0]) }).dataSync()[0]
    expect(lp).toBeCloseTo(-0.5 - 0.5 * Math.log(2 * Math.PI), 5)
  })
})

describe('seeded sampling', () => {
  it('samples ∝ multiplicity', () => {
    const s = new WeightedSampler([0, 1, 3])
    const rng = new Rng(7)
    const counts = [0, 0, 0]
    for (const i of s.sampleMany(rng, 40_000)) counts[i]++
    expect(counts[0]).toBe(0)
    expect(counts[2] / counts[1]).toBeGreaterThan(2.8)
    expect(counts[2] / counts[1]).toBeLessThan(3.2)
  })
  it('the same seed gives the same stream', () => {
    const a = new Rng(42)
    const b = new Rng(42)
    for (let i = 0; i < 5; i++) expect(a.next()).toBe(b.next())
  })
})
