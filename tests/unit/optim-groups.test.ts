// The grouped Adam/AdamW of optim.ts (parameters of equal trailing shape share one moment
// tensor and one update, issue 17) against Adam written per variable, plainly, the way
// optim.ts did it before: element for element the same float32 arithmetic, so the parameters
// agree exactly; its per-parameter state resumes exactly; and a parameter assigned from outside
// between steps (a checkpoint load) is taken as it is.
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig } from '../../src/shared/config.ts'
import { AdamOptimizer } from '../../src/main/engine/train/optim.ts'
import { GaussianMlpPolicy } from '../../src/main/engine/policies/gaussian-mlp.ts'
import { TransformerPolicy } from '../../src/main/engine/policies/transformer.ts'
import { Rng } from '../../src/main/engine/rng.ts'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

type Optim = ReturnType<typeof defaultConfig>['optim']
const optim = (o: Partial<Optim>): Optim => ({ ...defaultConfig('bandit').optim, ...o })

/** per-variable Adam: m, v per parameter, ~14 ops each (the reference) */
class PlainAdam {
  m: tf.Tensor[]
  v: tf.Tensor[]
  t = 0
  constructor(
    private readonly params: tf.Variable[],
    private readonly o: Optim
  ) {
    this.m = params.map((p) => tf.zerosLike(p))
    this.v = params.map((p) => tf.zerosLike(p))
  }
  step(grads: tf.Tensor[], lr: number): number {
    this.t++
    const [b1, b2] = this.o.betas
    const norm = Math.sqrt(grads.reduce((s, g) => s + tf.sum(tf.square(g)).dataSync()[0], 0))
    const scale = this.o.clip_grad_norm === null ? 1 : Math.min(1, this.o.clip_grad_norm / Math.max(norm, 1e-12))
    this.params.forEach((p, i) => {
      let g = grads[i]
      if (scale !== 1) g = tf.mul(g, scale)
      if (this.o.kind === 'adam' && this.o.weight_decay > 0) g = tf.add(g, tf.mul(p, this.o.weight_decay))
      this.m[i] = tf.add(tf.mul(this.m[i], b1), tf.mul(g, 1 - b1))
      this.v[i] = tf.add(tf.mul(this.v[i], b2), tf.mul(tf.square(g), 1 - b2))
      let u = tf.div(tf.div(this.m[i], 1 - Math.pow(b1, this.t)), tf.add(tf.sqrt(tf.div(this.v[i], 1 - Math.pow(b2, this.t))), this.o.eps))
      if (this.o.kind === 'adamw' && this.o.weight_decay > 0) u = tf.add(u, tf.mul(p, this.o.weight_decay))
      p.assign(tf.sub(p, tf.mul(u, lr)))
    })
    return norm
  }
}

/** an MLP-like set: two [*, 5] matrices, one [*, 3], three vectors */
const SHAPES = [[4, 5], [5], [6, 5], [5], [5, 3], [3]]

function params(seed: number): tf.Variable[] {
  const rng = new Rng(seed)
  return SHAPES.map((s) =>
    tf.variable(
      tf.tensor(
        Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal()),
        s
      )
    )
  )
}

function grads(rng: Rng, scale: number): tf.Tensor[] {
  return SHAPES.map((s) =>
    tf.tensor(
      Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => scale * rng.normal()),
      s
    )
  )
}

const values = (ps: tf.Variable[]): number[][] => ps.map((p) => Array.from(p.dataSync()))

describe('grouped Adam', () => {
  it.each([
    ['adam', 0],
    ['adam', 0.1],
    ['adamw', 0.1]
  ] as const)('%s (weight decay %s): the same parameters as per-variable Adam, exactly', (kind, wd) => {
    const o = optim({ kind, lr: 0.01, weight_decay: wd })
    const [a, b] = [params(1), params(1)]
    const grouped = new AdamOptimizer(a, o)
    const plain = new PlainAdam(b, o)
    const rng = new Rng(2)
    for (let s = 0; s < 6; s++) {
      const g = grads(rng, 1)
      const n = grouped.step(g, 0.01 * (s + 1))
      const pn = plain.step(g, 0.01 * (s + 1))
      expect(n.dataSync()[0]).toBeCloseTo(pn, 4)
      expect(values(a)).toEqual(values(b))
    }
    grouped.dispose()
  })

  it('a lone matrix and a scalar join the vectors flattened; still exact', () => {
    const shapes = [[2, 3], [4, 3], [3, 7], []]
    const rng = new Rng(9)
    const make = (): tf.Variable[] =>
      shapes.map((s) =>
        tf.variable(
          tf.tensor(
            Array.from({ length: s.reduce((a, b) => a * b, 1) }, (_, k) => 0.1 * k - 0.5),
            s
          )
        )
      )
    const [a, b] = [make(), make()]
    const o = optim({ kind: 'adam', lr: 0.01 })
    const grouped = new AdamOptimizer(a, o)
    const plain = new PlainAdam(b, o)
    for (let s = 0; s < 3; s++) {
      const g = shapes.map((sh) =>
        tf.tensor(
          Array.from({ length: sh.reduce((x, y) => x * y, 1) }, () => rng.normal()),
          sh
        )
      )
      grouped.step(g, 0.01)
      plain.step(g, 0.01)
      expect(values(a)).toEqual(values(b))
    }
    expect(a.map((p) => p.shape)).toEqual(shapes)
    expect(grouped.getState().m.map((m) => m.length)).toEqual([6, 12, 21, 1])
    grouped.dispose()
  })

  it('with clipping: the norm before clipping, and the same step to float rounding', () => {
    const o = optim({ kind: 'adamw', lr: 0.01, weight_decay: 0.01, clip_grad_norm: 1 })
    const [a, b] = [params(3), params(3)]
    const grouped = new AdamOptimizer(a, o)
    const plain = new PlainAdam(b, o)
    const rng = new Rng(4)
    for (let s = 0; s < 4; s++) {
      const g = grads(rng, 3) // norm ≈ 3·√92 ≫ 1: clipped
      expect(grouped.step(g, 0.01).dataSync()[0]).toBeCloseTo(plain.step(g, 0.01), 3)
    }
    values(a).forEach((row, i) => row.forEach((x, j) => expect(Math.abs(x - values(b)[i][j])).toBeLessThan(1e-6)))
    grouped.dispose()
  })

  it('its state is per parameter (the per-variable moments) and resumes exactly', () => {
    const o = optim({ kind: 'adam', lr: 0.01 })
    const [a, b] = [params(5), params(5)]
    const grouped = new AdamOptimizer(a, o)
    const plain = new PlainAdam(b, o)
    const rng = new Rng(6)
    for (let s = 0; s < 3; s++) {
      const g = grads(rng, 1)
      grouped.step(g, 0.01)
      plain.step(g, 0.01)
    }
    const st = grouped.getState()
    expect(st.t).toBe(3)
    expect(st.m.map((x) => Array.from(x))).toEqual(plain.m.map((x) => Array.from(x.dataSync())))
    expect(st.v.map((x) => Array.from(x))).toEqual(plain.v.map((x) => Array.from(x.dataSync())))
    // a new optimizer from that state continues like the first
    const c = params(0)
    c.forEach((p, i) => p.assign(a[i]))
    const resumed = new AdamOptimizer(c, o)
    resumed.setState(st)
    const g = grads(rng, 1)
    grouped.step(g, 0.01)
    resumed.step(g, 0.01)
    expect(values(c)).toEqual(values(a))
    ;[grouped, resumed].forEach((x) => x.dispose())
  })

  it('takes a parameter assigned from outside between steps (e.g. a loaded checkpoint)', () => {
    const o = optim({ kind: 'adam', lr: 0.01 })
    const [a, b] = [params(7), params(7)]
    const grouped = new AdamOptimizer(a, o)
    const plain = new PlainAdam(b, o)
    const rng = new Rng(8)
    const g0 = grads(rng, 1)
    grouped.step(g0, 0.01)
    plain.step(g0, 0.01)
    const fresh = tf.fill([6, 5], 0.25)
    a[2].assign(fresh)
    b[2].assign(fresh)
    const g1 = grads(rng, 1)
    grouped.step(g1, 0.01)
    plain.step(g1, 0.01)
    expect(values(a)).toEqual(values(b))
    grouped.dispose()
  })

  it('groups the control MLP (9 parameters) and the sequence transformer (28) into 2 moment pairs each', () => {
    const mlp = new GaussianMlpPolicy({ kind: 'gaussian-mlp', obsDim: 17, actDim: 6, hidden: [256, 256, 256], logStdMin: -5, logStdMax: 2 }, new Rng(0))
    const tr = new TransformerPolicy({ vocabSize: 32, dModel: 64, nHeads: 4, nLayers: 2, dFF: 256, maxLen: 128 }, { seed: 0 })
    for (const p of [mlp, tr]) {
      const before = tf.memory().numTensors
      const opt = new AdamOptimizer(p.variables, optim({ kind: 'adamw', weight_decay: 0.1 }))
      expect(tf.memory().numTensors - before).toBe(2 * 2 + 8) // m, v of 2 groups; 8 constant scalars
      // and it steps them all
      const g = p.variables.map((v) => tf.onesLike(v))
      const old = p.variables.map((v) => v.dataSync()[0])
      opt.step(g, 0.1)
      p.variables.forEach((v, i) => expect(v.dataSync()[0]).toBeLessThan(old[i]))
      opt.dispose()
      p.dispose()
    }
  })
})
