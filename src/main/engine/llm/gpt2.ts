// The GPT-2 decoder layer: pre-norm with LayerNorm (weight and bias), learned positions added to
// the token embedding, multi-head attention with biases, GELU (tanh approximation, "gelu_new"):
//   x += o(attn(q(n1), k(n1), v(n1))),  n1 = LN1(x)
//   x += down(gelu(up(n2))),            n2 = LN2(x)
// as transformers' GPT2Block computes it (its Conv1D c_attn is split into q, k, v on load).
import * as tf from '@tensorflow/tfjs'
import { attention, type ForwardCtx } from './attention.ts'
import type { DecoderWeights } from './layer-weights.ts'

export function layerNorm(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, -1, true)
  return x
    .sub(mean)
    .mul(tf.rsqrt(variance.add(eps)))
    .mul(w)
    .add(b) as tf.Tensor2D
}

/** 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return x.mul(0.5).mul(tf.tanh(x.add(x.mul(x).mul(x).mul(0.044715)).mul(Math.sqrt(2 / Math.PI))).add(1))
}

export function gpt2Layer(m: DecoderWeights, l: number, x: tf.Tensor2D, ctx: ForwardCtx): tf.Tensor2D {
  const s = m.spec
  const L = `layers.${l}`
  const eps = s.normEps
  const h = layerNorm(x, m.weight(`${L}.attn_norm.weight`), m.weight(`${L}.attn_norm.bias`), eps)
  const a = attention(m.linear(h, `${L}.q`), m.linear(h, `${L}.k`), m.linear(h, `${L}.v`), s.nHeads, s.nKvHeads, s.headDim, ctx, l)
  const x1 = x.add(m.linear(a, `${L}.o`)) as tf.Tensor2D
  const h2 = layerNorm(x1, m.weight(`${L}.mlp_norm.weight`), m.weight(`${L}.mlp_norm.bias`), eps)
  return x1.add(m.linear(geluTanh(m.linear(h2, `${L}.up`)) as tf.Tensor2D, `${L}.down`)) as tf.Tensor2D
}

export function gpt2FinalNorm(m: DecoderWeights, x: tf.Tensor2D): tf.Tensor2D {
  return layerNorm(x, m.weight('norm.weight'), m.weight('norm.bias'), m.spec.normEps)
}
