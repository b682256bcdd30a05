// The hand-written backward passes (tf.customGrad) of the policies and the loss (issue 17)
// against tfjs's own autodiff (tf.grads) of reference implementations written here, plainly and
// independently of the engine's code: every parameter's gradient of the weighted NLL, for both
// loss normalisations, with trace and per-step weights, masked steps and padded rows, on the cpu
// and wasm backends, and on native-cpu where its raw kernels run (fused matmul, MatMul,
// BiasAddGrad, ReluGrad: engine/backend/native-ops.ts). Float32 tolerance: |Δ| ≤ 1e-4 of the tensor's largest gradient. Parameters
// are drawn large enough (std 0.3–0.5) that every nonlinearity works away from its linear part.
import * as tf from '@tensorflow/tfjs'
import '@tensorflow/tfjs-backend-wasm'
import { afterAll, describe, expect, it as itBase } from 'vitest'
import { initBackend, probeBackends } from '../../src/main/engine/backend/index.ts'
import { weightedNll } from '../../src/main/engine/objectives/loss.ts'
import { CategoricalPolicy } from '../../src/main/engine/policies/categorical.ts'
import { GaussianMlpPolicy } from '../../src/main/engine/policies/gaussian-mlp.ts'
import { TransformerPolicy } from '../../src/main/engine/policies/transformer.ts'
import type { Batch, Policy } from '../../src/main/engine/policies/policy.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { untaped } from '../../src/main/engine/weights.ts'

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI)

afterAll(async () => {
  await tf.setBackend('cpu')
})

/** −(1/B) Σ_b w_b Σ_t m s log p / max(|τ_b|, 1) ("trace") or −Σ_b w_b Σ_t m s log p / max(Σ m, 1) ("token") */
function refLoss(logp: tf.Tensor2D, mask: tf.Tensor2D, w: tf.Tensor1D | null, stepW: tf.Tensor2D | null, norm: 'trace' | 'token'): tf.Scalar {
  const terms = stepW ? logp.mul(mask).mul(stepW) : logp.mul(mask)
  const perTrace = terms.sum(1)
  const weighted = w ? perTrace.mul(w) : perTrace
  if (norm === 'trace') return weighted.div(mask.sum(1).maximum(1)).sum().div(-logp.shape[0]) as tf.Scalar
  return weighted.sum().div(mask.sum().maximum(1)).neg() as tf.Scalar
}

function refGaussian(vars: tf.Tensor[], obs: tf.Tensor3D, act: tf.Tensor3D, lo: number, hi: number): tf.Tensor2D {
  const [B, T, O] = obs.shape
  const A = act.shape[2]
  let h: tf.Tensor = obs.reshape([B * T, O])
  const L = (vars.length - 1) / 2
  for (let l = 0; l < L; l++) {
    h = h.matMul(vars[2 * l] as tf.Tensor2D).add(vars[2 * l + 1])
    if (l < L - 1) h = h.relu()
  }
  const mu = h.tanh()
  const ls = vars[vars.length - 1].clipByValue(lo, hi)
  const z = act
    .reshape([B * T, A])
    .sub(mu)
    .div(ls.exp())
  return z.square().mul(-0.5).sub(ls).sub(HALF_LOG_2PI).sum(1).reshape([B, T]) as tf.Tensor2D
}

function refCategorical(vars: tf.Tensor[], obs: tf.Tensor3D | null, actions: tf.Tensor2D, A: number): tf.Tensor2D {
  const [B, T] = actions.shape
  let logits: tf.Tensor
  if (!obs) logits = vars[0].reshape([1, A])
  else {
    let h: tf.Tensor = obs.reshape([B * T, obs.shape[2]])
    for (let l = 0; l < vars.length / 2; l++) {
      h = h.matMul(vars[2 * l] as tf.Tensor2D).add(vars[2 * l + 1])
      if (l < vars.length / 2 - 1) h = h.relu()
    }
    logits = h
  }
  return tf
    .logSoftmax(logits)
    .mul(tf.oneHot(actions.reshape([B * T]) as tf.Tensor1D, A))
    .sum(1)
    .reshape([B, T]) as tf.Tensor2D
}

/** The transformer of transformer.ts written plainly: one head at a time, tfjs's own layer
 *  norm (tf.moments), GELU with tanh, logSoftmax; BOS in front, causal + padded-key mask. */
function refTransformer(
  vars: tf.Tensor[],
  cfg: { vocabSize: number; dModel: number; nHeads: number; nLayers: number; tied: boolean; bos: number },
  acts: tf.Tensor2D,
  valid: tf.Tensor2D
): tf.Tensor2D {
  const [B, T] = acts.shape
  const { vocabSize: V, dModel: d, nHeads: H } = cfg
  const dh = d / H
  const ln = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor => {
    const { mean, variance } = tf.moments(x, -1, true)
    return x.sub(mean).div(variance.add(1e-5).sqrt()).mul(g).add(b)
  }
  const gelu = (x: tf.Tensor): tf.Tensor => x.mul(0.5).mul(tf.tanh(x.add(x.mul(x).mul(x).mul(0.044715)).mul(Math.sqrt(2 / Math.PI))).add(1))
  const inputs = tf.concat([tf.fill([B, 1], cfg.bos, 'int32'), acts.slice([0, 0], [B, T - 1])], 1)
  const keyValid = tf.concat([tf.ones([B, 1]), valid.slice([0, 0], [B, T - 1])], 1)
  const causal = tf.tensor2d(
    Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0)),
    [T, T]
  )
  const bias = causal.reshape([1, T, T]).add(tf.sub(1, keyValid).mul(-1e9).reshape([B, 1, T]))
  const [wte, wpe] = vars
  let x: tf.Tensor = tf
    .oneHot(inputs.reshape([B * T]) as tf.Tensor1D, V)
    .matMul(wte as tf.Tensor2D)
    .reshape([B, T, d])
    .add(wpe.slice([0, 0], [T, d]))
  for (let l = 0; l < cfg.nLayers; l++) {
    const [g1, b1, wqkv, bqkv, wo, bo, g2, b2, wfc, bfc, wproj, bproj] = vars.slice(2 + 12 * l, 14 + 12 * l)
    const qkv = ln(x, g1, b1)
      .reshape([B * T, d])
      .matMul(wqkv as tf.Tensor2D)
      .add(bqkv)
      .reshape([B, T, 3 * d])
    const heads: tf.Tensor[] = []
    for (let h = 0; h < H; h++) {
      const q = qkv.slice([0, 0, h * dh], [B, T, dh])
      const k = qkv.slice([0, 0, d + h * dh], [B, T, dh])
      const v = qkv.slice([0, 0, 2 * d + h * dh], [B, T, dh])
      heads.push(tf.matMul(tf.softmax(tf.matMul(q, k, false, true).div(Math.sqrt(dh)).add(bias)), v))
    }
    x = x.add(
      tf
        .concat(heads, 2)
        .reshape([B * T, d])
        .matMul(wo as tf.Tensor2D)
        .add(bo)
        .reshape([B, T, d])
    )
    x = x.add(
      gelu(
        ln(x, g2, b2)
          .reshape([B * T, d])
          .matMul(wfc as tf.Tensor2D)
          .add(bfc)
      )
        .matMul(wproj as tf.Tensor2D)
        .add(bproj)
        .reshape([B, T, d])
    )
  }
  const k = 2 + 12 * cfg.nLayers
  const hf = ln(x, vars[k], vars[k + 1]).reshape([B * T, d])
  const logits = cfg.tied ? hf.matMul(wte as tf.Tensor2D, false, true) : hf.matMul(vars[k + 2] as tf.Tensor2D)
  return tf
    .logSoftmax(logits)
    .mul(tf.oneHot(acts.reshape([B * T]) as tf.Tensor1D, V))
    .sum(1)
    .reshape([B, T]) as tf.Tensor2D
}

/** 3 rows of up to 4 steps: row 1 has 2 padded steps, row 2 a masked (prompt-like) first step */
function masks(): { mask: tf.Tensor2D; valid: tf.Tensor2D } {
  return {
    valid: tf.tensor2d([
      [1, 1, 1, 1],
      [1, 1, 0, 0],
      [1, 1, 1, 0]
    ]),
    mask: tf.tensor2d([
      [1, 1, 1, 1],
      [1, 1, 0, 0],
      [0, 1, 1, 0]
    ])
  }
}

type Weighting = 'none' | 'trace' | 'step' | 'current-q'

/** The gradients of the engine's loss of `policy` and of the reference loss of `ref`. */
function bothGrads(policy: Policy, batch: Batch, ref: (vars: tf.Tensor[]) => tf.Tensor2D, weighting: Weighting, norm: 'trace' | 'token') {
  const w = weighting === 'trace' ? tf.tensor1d([1.5, 0.25, 2]) : null
  const stepW =
    weighting === 'step'
      ? tf.tensor2d([
          [0.5, 1, 2, 1],
          [1.2, 0.3, 9, 9],
          [1, 1.8, 0.2, 9]
        ])
      : null
  const engine = tf.variableGrads(() => {
    const logp = policy.logProbs(batch)
    // q = current: w from log π as a constant (off the tape), as the trainer does
    const wq = weighting === 'current-q' ? (untaped(() => [tf.exp(tf.mul(tf.sum(tf.mul(logp, batch.mask), 1), 0.1))])[0] as tf.Tensor1D) : w
    return weightedNll(logp, batch.mask, wq, stepW, norm)
  }, policy.variables)
  const reference = tf.grads((...vars: tf.Tensor[]) => {
    const logp = ref(vars)
    // the reference holds the weights constant by computing them from a detached copy
    const wq = weighting === 'current-q' ? tf.tensor1d(tf.exp(tf.mul(tf.sum(tf.mul(ref(vars.map((v) => v.clone())), batch.mask), 1), 0.1)).dataSync()) : w
    return refLoss(logp, batch.mask, wq, stepW, norm)
  })(policy.variables)
  return { engine: policy.variables.map((v) => engine.grads[v.name]), reference, loss: engine.value }
}

/** every element within 1e-4 of the tensor's largest reference gradient (float32 rounding is ~1e-6) */
function expectClose(name: string, got: tf.Tensor, want: tf.Tensor): void {
  expect(got.shape, name).toEqual(want.shape)
  const g = got.dataSync()
  const r = want.dataSync()
  let scale = 1e-6
  for (let i = 0; i < r.length; i++) scale = Math.max(scale, Math.abs(r[i]))
  let worst = 0
  for (let i = 0; i < r.length; i++) worst = Math.max(worst, Math.abs(g[i] - r[i]) / scale)
  expect(worst, `${name}: worst difference relative to the largest gradient ${scale}`).toBeLessThan(1e-4)
}

const cases: Array<[Weighting, 'trace' | 'token']> = [
  ['none', 'trace'],
  ['none', 'token'],
  ['trace', 'trace'],
  ['trace', 'token'],
  ['step', 'trace'],
  ['step', 'token'],
  ['current-q', 'trace'],
  ['current-q', 'token']
]

const nativeProbe = (await probeBackends()).find((p) => p.name === 'native-cpu')
const hasNative = nativeProbe?.available ?? false
const useBackend = async (backend: string): Promise<void> => {
  if (backend === 'native-cpu') await initBackend('native-cpu')
  else await tf.setBackend(backend)
}

describe.each(['cpu', 'wasm', 'native-cpu'])('hand-written gradients on %s', (backend) => {
  // native-cpu where it is installed (`npx iwsft backend install`); reported as skipped elsewhere
  const it = backend === 'native-cpu' && !hasNative ? itBase.skip : itBase
  it.each(cases)('Gaussian MLP, weights %s, loss norm %s', async (weighting, norm) => {
    await useBackend(backend)
    const spec = { kind: 'gaussian-mlp' as const, obsDim: 5, actDim: 3, hidden: [8, 7], logStdMin: -1, logStdMax: 0.5 }
    const policy = new GaussianMlpPolicy(spec, new Rng(11))
    const rng = new Rng(12)
    // biases and log-std away from 0; one log-std above the clamp (its gradient is 0)
    policy.variables.forEach((v, i) => {
      if (v.rank === 1) v.assign(tf.tensor1d(Array.from({ length: v.size }, () => 0.3 * rng.normal())))
      if (i === policy.variables.length - 1) v.assign(tf.tensor1d([0.2, -0.4, 0.9]))
    })
    const { mask, valid } = masks()
    const obs = tf.tensor3d(
      Float32Array.from({ length: 3 * 4 * 5 }, () => rng.normal()),
      [3, 4, 5]
    )
    const actions = tf.tensor3d(
      Float32Array.from({ length: 3 * 4 * 3 }, () => Math.tanh(rng.normal())),
      [3, 4, 3]
    )
    const batch: Batch = { B: 3, T: 4, obs, actions, mask, valid, traceIndex: new Int32Array(3) }
    const g = bothGrads(policy, batch, (vars) => refGaussian(vars, obs, actions, spec.logStdMin, spec.logStdMax), weighting, norm)
    g.engine.forEach((t, i) => expectClose(policy.variables[i].name, t, g.reference[i]))
    // the clamped log-std dimension gets no gradient; the others do
    const dLogStd = g.engine[g.engine.length - 1].dataSync()
    expect(dLogStd[2]).toBe(0)
    expect(Math.abs(dLogStd[0])).toBeGreaterThan(1e-6)
    policy.dispose()
  })

  it.each(cases)('categorical MLP, weights %s, loss norm %s', async (weighting, norm) => {
    await useBackend(backend)
    const policy = new CategoricalPolicy({ kind: 'categorical', obsDim: 4, actDim: 5, hidden: [6] }, new Rng(21))
    const rng = new Rng(22)
    policy.variables.forEach((v) =>
      v.assign(
        tf.tensor(
          Array.from({ length: v.size }, () => 0.5 * rng.normal()),
          v.shape
        )
      )
    )
    const { mask, valid } = masks()
    const obs = tf.tensor3d(
      Float32Array.from({ length: 3 * 4 * 4 }, () => rng.normal()),
      [3, 4, 4]
    )
    const actions = tf.tensor2d(
      Int32Array.from({ length: 12 }, (_, i) => (i * 3) % 5),
      [3, 4],
      'int32'
    )
    const batch: Batch = { B: 3, T: 4, obs, actions, mask, valid, traceIndex: new Int32Array(3) }
    const g = bothGrads(policy, batch, (vars) => refCategorical(vars, obs, actions, 5), weighting, norm)
    g.engine.forEach((t, i) => expectClose(policy.variables[i].name, t, g.reference[i]))
    policy.dispose()
  })

  it.each(cases)('context-free categorical (the bandit), weights %s, loss norm %s', async (weighting, norm) => {
    await useBackend(backend)
    const policy = new CategoricalPolicy({ kind: 'categorical', obsDim: 0, actDim: 3, hidden: [] }, new Rng(0))
    policy.variables[0].assign(tf.tensor1d([0.3, -0.2, 0.7]))
    const { mask, valid } = masks()
    const actions = tf.tensor2d([0, 1, 2, 2, 1, 1, 0, 0, 2, 0, 1, 1], [3, 4], 'int32')
    const batch: Batch = { B: 3, T: 4, obs: null, actions, mask, valid, traceIndex: new Int32Array(3) }
    const g = bothGrads(policy, batch, (vars) => refCategorical(vars, null, actions, 3), weighting, norm)
    expectClose('logits', g.engine[0], g.reference[0])
    policy.dispose()
  })

  it.each(
    cases.flatMap(
      ([w, n]) =>
        [
          [w, n, true],
          [w, n, false]
        ] as Array<[Weighting, 'trace' | 'token', boolean]>
    )
  )('transformer, weights %s, loss norm %s, tied head %s', async (weighting, norm, tied) => {
    await useBackend(backend)
    const cfg = { vocabSize: 9, dModel: 8, nHeads: 2, nLayers: 2, dFF: 12, maxLen: 6, bos: 1, tied }
    const policy = new TransformerPolicy(cfg, { seed: 31 })
    // weights N(0, 0.5²) instead of the init's 0.02 (so GELU, softmax and the norms work
    // away from their linear parts); LayerNorm gains and biases away from 1 / 0
    const rng = new Rng(32)
    policy.variables.forEach((v) =>
      v.assign(
        v.rank === 1
          ? v.add(tf.tensor1d(Array.from({ length: v.size }, () => 0.3 * rng.normal())))
          : tf.tensor(
              Array.from({ length: v.size }, () => 0.5 * rng.normal()),
              v.shape
            )
      )
    )
    const { mask, valid } = masks()
    const actions = tf.tensor2d([4, 5, 6, 2, 7, 2, 0, 0, 3, 8, 1, 0], [3, 4], 'int32')
    const batch: Batch = { B: 3, T: 4, obs: null, actions, mask, valid, traceIndex: new Int32Array(3) }
    const g = bothGrads(policy, batch, (vars) => refTransformer(vars, cfg, actions, valid), weighting, norm)
    g.engine.forEach((t, i) => expectClose(policy.variables[i].name, t, g.reference[i]))
    // position 4 and 5 are never used (T = 4 < maxLen 6): no gradient there
    const dWpe = g.engine[1].dataSync()
    for (let j = 4 * 8; j < 6 * 8; j++) expect(dWpe[j]).toBe(0)
    policy.dispose()
  })
})
