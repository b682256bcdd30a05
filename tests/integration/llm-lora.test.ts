// LoRA adapters and full fine-tuning on LlmPolicy (issue 14, slice 1): the adapter's forward pass
// equals PEFT's (tests/fixtures/llm/peft/llama-lora, made by python/parity/peft_ref.py), a fresh
// adapter (B = 0) is the base model, gradients reach only the adapters in LoRA mode, and they are
// the chain rule of the full model's gradient (tfjs autodiff of the plain merged model) and a
// finite difference.
import { readFileSync } from 'node:fs'
import * as tf from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/main/engine/backend/index.ts'
import { loadLlm, type LoadedLlm } from '../../src/main/engine/llm/load.ts'
import { ACTIVATION_BUDGET_BYTES } from '../../src/main/engine/llm/decoder.ts'
import { keepsAttention, savedBytesPerLayer } from '../../src/main/engine/llm/llama-grad.ts'
import { LORA_TARGETS } from '../../src/main/engine/llm/lora.ts'
import { loadPeftWeights, readPeftConfig } from '../../src/main/engine/llm/peft.ts'
import { LlmPolicy } from '../../src/main/engine/llm/policy.ts'
import type { Batch } from '../../src/main/engine/policies/policy.ts'

const fx = (p: string): string => new URL(`../fixtures/llm/${p}`, import.meta.url).pathname
const peftDir = fx('peft/llama-lora')
const ref = JSON.parse(readFileSync(`${peftDir}/logprobs.json`, 'utf8')) as { sequences: number[][]; logprobs: number[][]; base_logprobs: number[][] }

let m: LoadedLlm
beforeAll(async () => {
  await initBackend('cpu')
  m = await loadLlm(fx('hf/llama'))
})
afterAll(() => m?.dispose())

/** right-padded batch of the fixture's sequences; mask = every real token after the first */
function fixtureBatch(seqs = ref.sequences): Batch {
  const B = seqs.length
  const T = Math.max(...seqs.map((s) => s.length))
  const ids = new Int32Array(B * T)
  const valid = new Float32Array(B * T)
  const mask = new Float32Array(B * T)
  seqs.forEach((s, b) =>
    s.forEach((t, i) => {
      ids[b * T + i] = t
      valid[b * T + i] = 1
      mask[b * T + i] = i > 0 ? 1 : 0
    })
  )
  return { B, T, obs: null, actions: tf.tensor2d(ids, [B, T], 'int32'), mask: tf.tensor2d(mask, [B, T]), valid: tf.tensor2d(valid, [B, T]), traceIndex: new Int32Array(B) }
}

function logProbRows(p: LlmPolicy, batch: Batch): number[][] {
  const lp = p.logProbs(batch)
  const d = lp.dataSync()
  lp.dispose()
  return ref.sequences.map((s, b) => Array.from(d.slice(b * batch.T + 1, b * batch.T + s.length)))
}

function maxDiff(a: number[][], b: number[][]): number {
  let m = 0
  a.forEach((r, i) => r.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j])))))
  return m
}

const sumLoss = (p: LlmPolicy, batch: Batch): tf.Scalar => tf.tidy(() => p.logProbs(batch).mul(batch.mask).sum().neg() as tf.Scalar)

describe('LoRA on LlmPolicy', () => {
  it('reads the PEFT adapter config', async () => {
    const s = await readPeftConfig(peftDir)
    expect(s).toEqual({ rank: 4, alpha: 8, dropout: 0, targets: ['down', 'gate', 'k', 'o', 'q', 'up', 'v'], rslora: false })
  })

  it("a fresh adapter (B = 0) is the base model; PEFT's adapter gives PEFT's log-probs within 1e-4", async () => {
    const settings = await readPeftConfig(peftDir)
    const p = new LlmPolicy(m.model, { model: 'llama', training: { mode: 'lora', ...settings }, seed: 5 })
    const batch = fixtureBatch()
    expect(p.variables.length).toBe(2 * 7 * m.spec.nLayers)
    expect(maxDiff(logProbRows(p, batch), ref.base_logprobs)).toBeLessThan(1e-4)
    await loadPeftWeights(m.spec, p.adapters!, peftDir)
    const got = logProbRows(p, batch)
    expect(maxDiff(got, ref.logprobs)).toBeLessThan(1e-4)
    // the adapter changes the model by far more than the tolerance (the comparison can fail)
    expect(maxDiff(ref.logprobs, ref.base_logprobs)).toBeGreaterThan(1e-2)
    // the shared model is untouched: a frozen handle still scores the base
    const frozen = new LlmPolicy(m.model, { model: 'llama' })
    expect(maxDiff(logProbRows(frozen, batch), ref.base_logprobs)).toBeLessThan(1e-4)
    p.dispose()
    tf.dispose([batch.actions, batch.mask, batch.valid!])
  })

  it('a clone copies the adapters only (never the base weights) and trains independently', async () => {
    const settings = await readPeftConfig(peftDir)
    const p = new LlmPolicy(m.model, { model: 'llama', training: { mode: 'lora', ...settings }, seed: 5 })
    const adapterBytes = p.variables.reduce((s, v) => s + v.size * 4, 0)
    const before = tf.memory().numBytes
    const c = p.clone(false)
    expect(tf.memory().numBytes - before).toBe(adapterBytes)
    expect(c.variables.every((v) => !v.trainable)).toBe(true)
    c.dispose()
    p.dispose()
  })

  it("gradients reach only the adapters and equal the chain rule of the full model's gradient", async () => {
    const settings = await readPeftConfig(peftDir)
    const p = new LlmPolicy(m.model, { model: 'llama', training: { mode: 'lora', ...settings }, seed: 5 })
    await loadPeftWeights(m.spec, p.adapters!, peftDir)
    const batch = fixtureBatch()
    // every trainable variable the loss touches: exactly the adapters (base weights are constants)
    const all = tf.variableGrads(() => sumLoss(p, batch))
    const names = Object.keys(all.grads).sort()
    expect(names).toEqual(p.variables.map((v) => v.name).sort())
    tf.dispose([all.value, ...Object.values(all.grads)])

    // plain reference: the full model with W' = W + s·A·B as variables, differentiated by tfjs
    const full = new LlmPolicy(m.model, { model: 'llama', training: { mode: 'full' } })
    for (const name of p.adapters!.modules.keys()) {
      const w = full.lm.weights.get(`${name}.weight`) as tf.Variable
      const d = p.adapters!.delta(name)
      w.assign(w.add(d))
      d.dispose()
    }
    expect(maxDiff(logProbRows(full, batch), ref.logprobs)).toBeLessThan(1e-4)
    const g = tf.variableGrads(() => sumLoss(p, batch), p.variables)
    const gFull = tf.variableGrads(() => sumLoss(full, batch), full.variables)
    expect(Math.abs(g.value.dataSync()[0] - gFull.value.dataSync()[0])).toBeLessThan(1e-3)
    const s = p.adapters!.scale
    let worst = 0
    for (const [name, { A, B }] of p.adapters!.modules) {
      const gW = gFull.grads[(full.lm.weights.get(`${name}.weight`) as tf.Variable).name]
      // dL/dA = s·dL/dW'·Bᵀ, dL/dB = s·Aᵀ·dL/dW'
      const expA = tf.matMul(gW, B, false, true).mul(s)
      const expB = tf.matMul(A, gW, true, false).mul(s)
      for (const [got, exp] of [
        [g.grads[A.name], expA],
        [g.grads[B.name], expB]
      ] as const) {
        const scale = Math.max(1e-3, tf.max(tf.abs(exp)).dataSync()[0])
        worst = Math.max(worst, tf.max(tf.abs(got.sub(exp))).dataSync()[0] / scale)
      }
      tf.dispose([expA, expB])
    }
    expect(worst).toBeLessThan(1e-3)

    // and a central finite difference along a random direction of every B
    const dirs = p.adapters!.variables.filter((v) => v.name.endsWith('/B')).map((v, i) => tf.randomNormal(v.shape, 0, 1, 'float32', 100 + i))
    const Bs = p.variables.filter((v) => v.name.endsWith('/B'))
    const analytic = Bs.reduce((acc, v, i) => acc + g.grads[v.name].mul(dirs[i]).sum().dataSync()[0], 0)
    const eps = 1e-3
    const shift = (k: number): void => Bs.forEach((v, i) => v.assign(v.add(dirs[i].mul(k))))
    shift(eps)
    const up = sumLoss(p, batch).dataSync()[0]
    shift(-2 * eps)
    const down = sumLoss(p, batch).dataSync()[0]
    shift(eps)
    const numeric = (up - down) / (2 * eps)
    expect(Math.abs(numeric - analytic) / Math.abs(analytic)).toBeLessThan(2e-2)
    tf.dispose([g.value, gFull.value, ...Object.values(g.grads), ...Object.values(gFull.grads), ...dirs, batch.actions, batch.mask, batch.valid!])
    full.dispose()
    p.dispose()
  })

  it("full fine-tuning: every base weight is a trainable variable of the policy's own copy", () => {
    const full = new LlmPolicy(m.model, { model: 'llama', training: { mode: 'full' } })
    expect(full.variables.length).toBe(m.model.weights.size)
    expect(full.lm).not.toBe(m.model)
    const batch = fixtureBatch()
    expect(maxDiff(logProbRows(full, batch), ref.base_logprobs)).toBeLessThan(1e-4)
    const { value, grads } = tf.variableGrads(() => sumLoss(full, batch), full.variables)
    expect(Object.keys(grads).length).toBe(full.variables.length)
    tf.dispose([value, ...Object.values(grads), batch.actions, batch.mask, batch.valid!])
    full.dispose()
    // the loaded model is untouched by the copy's disposal
    expect(m.model.weights.get('embed')!.isDisposed).toBe(false)
  })

  it("hand-differentiated Llama layers (activations kept or run again), checkpointed GPT-2 layers and the chunked head give the plain tape's gradients (LoRA with dropout; full on Llama, tied-head Llama, GPT-2, Qwen2)", async () => {
    const batch = fixtureBatch()
    const { B, T } = batch
    // plain reference, differentiated op by op by tfjs: every layer taped (a hook that declares no
    // tensors keeps the plain path), then the whole [B·T, V] log-softmax; row t predicts token t + 1
    const plainLoss = (lm: LlmPolicy['lm'], hook: NonNullable<LlmPolicy['lm']['linearHook']>): tf.Scalar =>
      tf.tidy(() => {
        lm.linearHook = hook
        try {
          const ctx = lm.context(B, T, {}, lm.causalMask(T, T), null, false)
          const logp = tf.logSoftmax(lm.logits(lm.hidden(batch.actions as tf.Tensor2D, ctx)))
          const next = tf.concat([batch.actions.slice([0, 1], [B, T - 1]), tf.zeros([B, 1], 'int32')], 1).reshape([B * T]) as tf.Tensor1D
          const picked = tf.sum(logp.mul(tf.oneHot(next, lm.spec.vocabSize)), 1).reshape([B, T])
          const m = tf.concat([batch.mask.slice([0, 1], [B, T - 1]), tf.zeros([B, 1])], 1)
          return picked.mul(m).sum().neg() as tf.Scalar
        } finally {
          lm.linearHook = null
        }
      })
    // per tensor, relative to its largest entry (at least 1% of the largest gradient of all: a
    // gradient that is zero in exact arithmetic, as GPT-2's key biases, is float noise)
    const compare = (a: tf.NamedTensorMap, b: tf.NamedTensorMap): number => {
      const top = Math.max(...Object.values(b).map((t) => tf.max(tf.abs(t)).dataSync()[0]))
      let worst = 0
      for (const k of Object.keys(b)) {
        const scale = Math.max(1e-2 * top, tf.max(tf.abs(b[k])).dataSync()[0])
        worst = Math.max(worst, tf.max(tf.abs(a[k].sub(b[k]))).dataSync()[0] / scale)
      }
      return worst
    }

    // dropout 0.75: 1/(1 − p) = 4 is exact in float32, so the hand backward (which puts it on the
    // rank-r factors) and tfjs' (on the input) round alike, and confusing p with 1 − p (1/p =
    // 4/3) cannot pass. (At p = 0.3 the two roundings differ by up to 3e-4 on this model's
    // smallest gradients.)
    const p = new LlmPolicy(m.model, { model: 'llama', training: { mode: 'lora', rank: 2, alpha: 4, dropout: 0.75, targets: [...LORA_TARGETS] }, seed: 2 })
    for (const v of p.variables) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 4))
    // the Llama layers are differentiated by hand (llama-grad.ts): every layer keeping all its
    // activations; every layer keeping all but the attention probabilities and output (the
    // backward recomputes them); the first only, so (the others run again in the backward); none
    const { nLayers } = m.model.spec
    p.lm.activationBudgetBytes = 0
    const lean = savedBytesPerLayer(p.lm, B, T, p.adapters!.lora)
    const budgets: Array<[number, boolean]> = [
      [ACTIVATION_BUDGET_BYTES, true],
      [nLayers * lean, false],
      [lean, false],
      [0, false]
    ]
    for (const [budget, attention] of budgets) {
      p.lm.activationBudgetBytes = budget
      expect(keepsAttention(p.lm, B, T, p.adapters!.lora), `budget ${budget}`).toBe(attention)
      const start = p.adapters!.params.get()
      const got = tf.variableGrads(() => sumLoss(p, batch), p.variables)
      const after = p.adapters!.params.get()
      p.adapters!.params.set(start) // the same dropout masks for the reference
      const want = tf.variableGrads(() => plainLoss(p.lm, p.adapters!.hook), p.variables)
      expect(p.adapters!.params.get()).toBe(after) // the replays left the dropout stream where the forward did
      expect(Math.abs(got.value.dataSync()[0] - want.value.dataSync()[0])).toBeLessThan(1e-3)
      expect(compare(got.grads, want.grads), `budget ${budget}`).toBeLessThan(1e-4)
      tf.dispose([got.value, want.value, ...Object.values(got.grads), ...Object.values(want.grads)])
    }
    p.lm.activationBudgetBytes = ACTIVATION_BUDGET_BYTES
    p.dispose()

    for (const dir of ['llama', 'llama-tied-rope-scaled', 'gpt2', 'qwen2']) {
      const other = dir === 'llama' ? null : await loadLlm(fx(`hf/${dir}`))
      const full = new LlmPolicy(other?.model ?? m.model, { model: dir, training: { mode: 'full' } })
      for (const v of full.variables) v.assign(v.add(tf.randomNormal(v.shape, 0, 0.02, 'float32', 6)))
      const wantF = tf.variableGrads(() => plainLoss(full.lm, (_n, _x, y) => y), full.variables)
      // by hand (Llama, Qwen2: keeping all the activations, all but the attention's, then
      // running every layer again) or checkpointed (GPT-2)
      const fullBudget = full.lm.activationBudgetBytes
      full.lm.activationBudgetBytes = 0
      const leanF = savedBytesPerLayer(full.lm, B, T)
      for (const budget of [fullBudget, full.lm.spec.nLayers * leanF, 0]) {
        full.lm.activationBudgetBytes = budget
        const gotF = tf.variableGrads(() => sumLoss(full, batch), full.variables)
        expect(Object.keys(gotF.grads).sort()).toEqual(Object.keys(wantF.grads).sort())
        expect(compare(gotF.grads, wantF.grads), `${dir}, budget ${budget}`).toBeLessThan(1e-4)
        tf.dispose([gotF.value, ...Object.values(gotF.grads)])
      }
      tf.dispose([wantF.value, ...Object.values(wantF.grads)])
      full.dispose()
      other?.dispose()
    }
    tf.dispose([batch.actions, batch.mask, batch.valid!])
  })

  it('dropout acts only under a gradient tape; bad settings are clear errors', () => {
    const p = new LlmPolicy(m.model, { model: 'llama', training: { mode: 'lora', rank: 2, alpha: 4, dropout: 0.5, targets: [...LORA_TARGETS] }, seed: 1 })
    // make the adapter non-zero so dropout would show
    for (const v of p.variables) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 3))
    const batch = fixtureBatch()
    const a = logProbRows(p, batch)
    expect(maxDiff(a, logProbRows(p, batch))).toBe(0)
    const t1 = tf.variableGrads(() => sumLoss(p, batch), p.variables)
    const t2 = tf.variableGrads(() => sumLoss(p, batch), p.variables)
    const noDrop = sumLoss(p, batch)
    expect(t1.value.dataSync()[0]).not.toBeCloseTo(noDrop.dataSync()[0], 3)
    expect(t1.value.dataSync()[0]).not.toBe(t2.value.dataSync()[0])
    tf.dispose([t1.value, t2.value, noDrop, ...Object.values(t1.grads), ...Object.values(t2.grads), batch.actions, batch.mask, batch.valid!])
    p.dispose()
    expect(() => new LlmPolicy(m.model, { model: 'llama', training: { mode: 'lora', rank: 0, alpha: 4, dropout: 0, targets: ['q'] } })).toThrow(/rank must be a positive integer/)
    expect(() => new LlmPolicy(m.model, { model: 'llama', training: { mode: 'lora', rank: 2, alpha: 4, dropout: 0, targets: [] } })).toThrow(/at least one target/)
  })
})
