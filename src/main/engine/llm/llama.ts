// The Llama-family decoder layer (Llama, Mistral, Qwen2, SmolLM): pre-norm with RMSNorm,
// rotary attention with grouped-query heads (q/k/v biases for Qwen2), SwiGLU feed-forward:
//   x += o(attn(q(n1), k(n1), v(n1))),  n1 = rms(x)·w1
//   x += down(silu(gate(n2)) · up(n2)), n2 = rms(x)·w2
// as transformers' LlamaDecoderLayer / Qwen2DecoderLayer / MistralDecoderLayer compute it.
import * as tf from '@tensorflow/tfjs'
import { attention, type ForwardCtx } from './attention.ts'
import type { DecoderWeights } from './layer-weights.ts'

/** RMSNorm over the last axis: x / √(mean(x²) + eps) · w */
export function rmsNorm(x: tf.Tensor2D, w: tf.Tensor, eps: number): tf.Tensor2D {
  return x.mul(tf.rsqrt(x.square().mean(-1, true).add(eps))).mul(w) as tf.Tensor2D
}

export function llamaLayer(m: DecoderWeights, l: number, x: tf.Tensor2D, ctx: ForwardCtx): tf.Tensor2D {
  const s = m.spec
  const L = `layers.${l}`
  const eps = s.normEps
  const h = rmsNorm(x, m.weight(`${L}.attn_norm.weight`), eps)
  const a = attention(m.linear(h, `${L}.q`), m.linear(h, `${L}.k`), m.linear(h, `${L}.v`), s.nHeads, s.nKvHeads, s.headDim, ctx, l)
  const x1 = x.add(m.linear(a, `${L}.o`)) as tf.Tensor2D
  const h2 = rmsNorm(x1, m.weight(`${L}.mlp_norm.weight`), eps)
  const g = m.linear(h2, `${L}.gate`)
  const act = g.mul(tf.sigmoid(g)).mul(m.linear(h2, `${L}.up`)) as tf.Tensor2D
  return x1.add(m.linear(act, `${L}.down`)) as tf.Tensor2D
}

export function llamaFinalNorm(m: DecoderWeights, x: tf.Tensor2D): tf.Tensor2D {
  return rmsNorm(x, m.weight('norm.weight'), m.spec.normEps)
}
