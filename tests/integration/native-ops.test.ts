// The raw TensorFlow ops of backend/native-ops.ts against numbers worked out by hand, on the
// native backend (where the raw kernels run) and on the cpu backend (where their tfjs-op
// fallbacks run). Where native-cpu is not installed its half is reported as skipped.
import * as tf from '@tensorflow/tfjs'
import { describe, expect, it } from 'vitest'
import { initBackend, probeBackends } from '../../src/main/engine/backend/index.ts'
import { layerNormNoGrad, matMulBias, nativeOpUnavailable, nodeBackend, reluGrad, sigmoidGrad, targetLogSoftmax } from '../../src/main/engine/backend/native-ops.ts'
import { TransformerPolicy } from '../../src/main/engine/policies/transformer.ts'
import { tokenBatch } from '../helpers/token-batch.ts'

const probe = await probeBackends()
const native = probe.find((p) => p.name === 'native-cpu')
const hasNative = native?.available ?? false
const backends = [['cpu', true] as const, ['native-cpu', hasNative] as const]

const close = (got: Float32Array | Int32Array | Uint8Array, want: number[], tol: number): void => {
  expect(got.length).toBe(want.length)
  want.forEach((w, i) => expect(Math.abs(got[i] - w)).toBeLessThanOrEqual(tol))
}

describe.each(backends)('raw ops on %s', (backend, available) => {
  const label = (s: string): string => (available ? s : `${s} [skipped: native-cpu not available here — ${native?.detail ?? 'not probed'}]`)

  it.skipIf(!available)(label('reluGrad passes dy where y > 0 and nothing at or below 0'), async () => {
    await initBackend(backend)
    expect(nodeBackend() !== null).toBe(backend === 'native-cpu')
    const got = tf.tidy(() => reluGrad(tf.tensor2d([1.5, -2, 3, 4], [2, 2]), tf.tensor2d([0.5, 0, 2, -1], [2, 2])).dataSync())
    close(got as Float32Array, [1.5, 0, 3, 0], 0)
  })

  it.skipIf(!available)(label('sigmoidGrad is dy·y(1 − y)'), async () => {
    await initBackend(backend)
    // y = 0.5 → 0.25·dy; y = 0.2 → 0.16·dy; y = 0.9 → 0.09·dy
    const got = tf.tidy(() => sigmoidGrad(tf.tensor1d([0.5, 0.2, 0.9]), tf.tensor1d([2, -1, 10])).dataSync())
    close(got as Float32Array, [0.5, -0.16, 0.9], 1e-6)
  })

  it.skipIf(!available)(label('layerNormNoGrad normalises each row (biased variance, ε inside the root) then scales and shifts'), async () => {
    await initBackend(backend)
    // row [1, 2, 3, 4]: mean 2.5, var 1.25 → x̂ = [−1.5, −0.5, 0.5, 1.5]/√(1.25 + ε)
    // row [2, 2, 2, 2]: var 0 → x̂ = 0 → y = b
    const eps = 0.75 // √(1.25 + 0.75) = √2
    const s = Math.SQRT2
    const g = [1, 2, -1, 0.5]
    const b = [0, 1, 0, -1]
    const want = [...[-1.5, -0.5, 0.5, 1.5].map((x, j) => (x / s) * g[j] + b[j]), ...b]
    const got = tf.tidy(() => layerNormNoGrad(tf.tensor2d([1, 2, 3, 4, 2, 2, 2, 2], [2, 4]), tf.tensor1d(g), tf.tensor1d(b), eps).dataSync())
    close(got as Float32Array, want, 1e-6)
  })

  it.skipIf(!available)(label('matMulBias is act(x·W + b) for linear, ReLU and tanh-GELU, as one fused kernel on native-cpu'), async () => {
    await initBackend(backend)
    // x·W = [[1·1 + 2·0.5, 1·(−1) + 2·2, 1·0.5 + 2·(−1)], [−1·1 + 0.5·0.5, 1 + 1, −0.5 − 0.5]] = [[2, 3, −1.5], [−0.75, 2, −1]]
    const pre = [2.1, 2.8, -1.2, -0.65, 1.8, -0.7] // + b = [0.1, −0.2, 0.3]
    const gelu = (u: number): number => 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u ** 3)))
    const want = { linear: pre, relu: pre.map((u) => Math.max(0, u)), gelu: pre.map(gelu) }
    for (const act of ['linear', 'relu', 'gelu'] as const) {
      const got = tf.tidy(() => matMulBias(tf.tensor2d([1, 2, -1, 0.5], [2, 2]), tf.tensor2d([1, -1, 0.5, 0.5, 2, -1], [2, 3]), tf.tensor1d([0.1, -0.2, 0.3]), act).dataSync())
      close(got as Float32Array, want[act], 1e-5)
      // on native-cpu the fused kernel ran (a binding without the attr-string-list patch falls
      // back: rebuild it with `npx iwsft backend install`)
      if (backend === 'native-cpu') expect(nativeOpUnavailable(`_MklNativeFusedMatMul:${act}`)).toBe(false)
    }
  })

  it.skipIf(!available)(label('targetLogSoftmax gives log softmax at the target and softmax − onehot (one kernel on native-cpu)'), async () => {
    await initBackend(backend)
    // row 0: logits [0, ln 2, ln 3] → softmax [1, 2, 3]/6; target 2: ln(3/6) = −ln 2
    // row 1: logits [5, 5, 5] → softmax 1/3 each; target 0: −ln 3
    const logits = tf.tensor2d([0, Math.log(2), Math.log(3), 5, 5, 5], [2, 3])
    const targets = tf.tensor1d([2, 0], 'int32')
    const { lp, pMinusOneHot } = targetLogSoftmax(logits, targets, true)
    close(lp.dataSync() as Float32Array, [-Math.LN2, -Math.log(3)], 1e-6)
    close(pMinusOneHot!.dataSync() as Float32Array, [1 / 6, 2 / 6, 3 / 6 - 1, 1 / 3 - 1, 1 / 3, 1 / 3], 1e-6)
    const noGrad = targetLogSoftmax(logits, targets, false)
    expect(noGrad.pMinusOneHot).toBeNull()
    close(noGrad.lp.dataSync() as Float32Array, [-Math.LN2, -Math.log(3)], 1e-6)
    if (backend === 'native-cpu') expect(nativeOpUnavailable('SparseSoftmaxCrossEntropyWithLogits')).toBe(false)
    tf.dispose([logits, targets, lp, pMinusOneHot!, noGrad.lp])
  })
})

// The causal transformer's passes that take no gradient (scoring, sampling) run each layer norm
// as _MklLayerNorm on the native backend: the same log-probs as the cpu backend's tfjs ops, the
// same as the differentiated pass, and the same greedy generations.
describe('the transformer without a gradient tape', () => {
  it.skipIf(!hasNative)(hasNative ? 'scores and generates on native-cpu as on cpu' : 'scores and generates on native-cpu as on cpu [skipped: native-cpu not available here]', async () => {
    const cfg = { vocabSize: 13, dModel: 16, nHeads: 4, nLayers: 2, dFF: 24, maxLen: 10, tied: false, bos: 1 }
    const seqs = [
      [4, 5, 6, 7, 8],
      [9, 3]
    ]
    const T = 5
    const run = async (backend: 'cpu' | 'native-cpu'): Promise<{ lp: Float32Array; taped: Float32Array; gen: number[][] }> => {
      await initBackend(backend)
      const p = new TransformerPolicy(cfg, { seed: 21 })
      const batch = tokenBatch(seqs, T)
      const valid = batch.valid!
      const out = p.logProbs(batch)
      const lp = out.dataSync() as Float32Array
      // under a tape: the differentiated pass (hand-written layer norms)
      let taped = new Float32Array(0)
      const { value, grads } = tf.variableGrads(() => {
        const t = p.logProbs(batch)
        taped = Float32Array.from(t.dataSync())
        return tf.sum(tf.mul(t, valid)) as tf.Scalar
      }, p.variables)
      const gen = p.generate(seqs, { maxNew: 4, temperature: 0 })
      tf.dispose([out, batch.actions, valid, value, ...Object.values(grads)])
      p.dispose()
      return { lp, taped, gen }
    }
    const cpu = await run('cpu')
    const nat = await run('native-cpu')
    for (let b = 0; b < 2; b++) {
      for (let t = 0; t < seqs[b].length; t++) {
        const i = b * T + t
        expect(cpu.lp[i]).toBeLessThan(0)
        expect(Math.abs(nat.lp[i] - cpu.lp[i])).toBeLessThan(1e-5)
        expect(Math.abs(nat.lp[i] - nat.taped[i])).toBeLessThan(1e-5)
        expect(Math.abs(cpu.lp[i] - cpu.taped[i])).toBeLessThan(1e-6)
      }
    }
    expect(nat.gen).toEqual(cpu.gen)
    expect(nat.gen.flat().length).toBeGreaterThan(0)
  })
})
