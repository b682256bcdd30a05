// Causal self-attention shared by the Llama family and GPT-2: optional rotary embeddings,
// grouped-query attention (each key/value head serves nHeads / nKvHeads query heads, as
// transformers' repeat_kv), an additive mask, and a key/value cache for generation.
//
// Layout: activations stay [B·S, features] between layers. Per layer q/k/v are viewed as
// [B, S, heads, dh], rotated, and transposed once to [B, heads, S, dh]; the query heads of one
// key/value group are stacked along the sequence axis ([B, KV, G·S, dh]), so one batched matMul
// against [B, KV, P, dh] keys covers every head with no repeated keys.
import * as tf from '@tensorflow/tfjs'

/** one layer's cached keys and values, [B, KV, P, dh] */
export interface KV {
  k: tf.Tensor4D
  v: tf.Tensor4D
}

/** What one forward pass needs besides the token ids. */
export interface ForwardCtx {
  B: number
  S: number
  /** absolute positions [B, S] int32 (left-padded generation), or null: start … start+S−1 for every row */
  positions: tf.Tensor2D | null
  start: number
  /** RoPE tables for these positions, [B or 1, S, 1, dh] (null for GPT-2) */
  cos: tf.Tensor4D | null
  sinSigned: tf.Tensor4D | null
  /** the same tables times 1/√dh, for queries: the attention scale rides on the rotation */
  cosQ: tf.Tensor4D | null
  sinSignedQ: tf.Tensor4D | null
  /** additive attention bias broadcastable to [B, H, S, P]: [B or 1, 1, S, P]; null = attend to all */
  bias: tf.Tensor4D | null
  /** keys/values of earlier positions, per layer (generation) */
  past: KV[] | null
  /** filled by attention(): every layer's keys and values including these positions */
  kv: KV[]
  /** keep kv (generation); scoring leaves it empty */
  keepKv: boolean
}

/** [x2, x1] for x = [x1, x2] split in halves along the last axis (rotate-half RoPE without the
 *  sign, which rides on sinSigned) */
export function swapHalves(x: tf.Tensor4D): tf.Tensor4D {
  const dh = x.shape[3]
  // one reverse on the native backend (measured 1.4× faster than split + concat there), split +
  // concat elsewhere (wasm's reverse is 2× slower)
  if (tf.getBackend() === 'tensorflow')
    return x
      .reshape([-1, 2, dh / 2])
      .reverse(1)
      .reshape(x.shape) as tf.Tensor4D
  const [x1, x2] = tf.split(x, 2, 3)
  return tf.concat([x2, x1], 3) as tf.Tensor4D
}

/** x·cos + swap_halves(x)·sinSigned on [B, S, n, dh] (rotate-half RoPE, see rope.ts) */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor4D, sinSigned: tf.Tensor4D): tf.Tensor4D {
  return x.mul(cos).add(swapHalves(x).mul(sinSigned)) as tf.Tensor4D
}

/**
 * Attention output [B·S, H·dh] for projected q [B·S, H·dh], k and v [B·S, KV·dh].
 * `layer` indexes ctx.past / ctx.kv.
 */
export function attention(q2: tf.Tensor2D, k2: tf.Tensor2D, v2: tf.Tensor2D, nHeads: number, nKvHeads: number, headDim: number, ctx: ForwardCtx, layer: number): tf.Tensor2D {
  const { B, S } = ctx
  const G = nHeads / nKvHeads
  let q = q2.reshape([B, S, nHeads, headDim]) as tf.Tensor4D
  let k = k2.reshape([B, S, nKvHeads, headDim]) as tf.Tensor4D
  const v = v2.reshape([B, S, nKvHeads, headDim]) as tf.Tensor4D
  if (ctx.cos && ctx.sinSigned && ctx.cosQ && ctx.sinSignedQ) {
    q = applyRope(q, ctx.cosQ, ctx.sinSignedQ)
    k = applyRope(k, ctx.cos, ctx.sinSigned)
  } else q = q.mul(1 / Math.sqrt(headDim)) as tf.Tensor4D
  // [B, S, n, dh] → [B, n, S, dh]; with one position (a generation step) that is a reshape
  const heads = (t: tf.Tensor4D, n: number): tf.Tensor4D => (S === 1 ? t.reshape([B, n, 1, headDim]) : t.transpose([0, 2, 1, 3])) as tf.Tensor4D
  // q is already scaled by 1/√dh (smaller than the scores)
  const qt = heads(q, nHeads).reshape([B, nKvHeads, G * S, headDim]) as tf.Tensor4D
  let kt = heads(k, nKvHeads)
  let vt = heads(v, nKvHeads)
  const past = ctx.past?.[layer]
  if (past) {
    kt = tf.concat([past.k, kt], 2)
    vt = tf.concat([past.v, vt], 2)
  }
  if (ctx.keepKv) ctx.kv[layer] = { k: kt, v: vt }
  const P = kt.shape[2]
  let scores: tf.Tensor = tf.matMul(qt, kt, false, true) // [B, KV, G·S, P]
  if (ctx.bias) scores = scores.reshape([B, nHeads, S, P]).add(ctx.bias)
  const probs = tf.softmax(scores, -1).reshape([B, nKvHeads, G * S, P])
  const out = tf.matMul(probs, vt) // [B, KV, G·S, dh]
  const merged = S === 1 ? out : out.reshape([B, nHeads, S, headDim]).transpose([0, 2, 1, 3])
  return merged.reshape([B * S, nHeads * headDim]) as tf.Tensor2D
}
