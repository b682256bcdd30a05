// The objectives of science.md ("Objectives"): every method minimises a weighted negative
// log-likelihood of its (curated) traces; the weights are never differentiated.
//   BC, SFT, SFT(Q):   L = −(1/|τ|) log π_θ(τ)                  (w = 1)
//   iw-SFT, iw-SFT(Q): L = −w(τ) (1/|τ|) log π_θ(τ)
//   per-step:          L = −(1/|τ|) Σ_t w_t log π_θ(a_t|s_t)
// Two normalisations: "trace" = per-trace mean over its masked steps, then the batch mean
// (authors' control code); "token" = sum over all masked steps of the batch divided by their
// count (authors' LLM code).
import * as tf from '@tensorflow/tfjs'

export type LossNorm = 'trace' | 'token'

/**
 * @param logp  [B, T] log π_θ(a_t|s_t)
 * @param mask  [B, T] 1 where the step counts
 * @param traceW [B] per-trace weights, or null (w = 1)
 * @param stepW  [B, T] per-step weights, or null
 */
export function weightedNll(
  logp: tf.Tensor2D,
  mask: tf.Tensor2D,
  traceW: tf.Tensor1D | null,
  stepW: tf.Tensor2D | null,
  norm: LossNorm
): tf.Scalar {
  return tf.tidy(() => {
    let stepTerms = tf.mul(logp, mask) as tf.Tensor2D
    if (stepW) stepTerms = tf.mul(stepTerms, stepW)
    if (norm === 'trace') {
      const len = tf.maximum(tf.sum(mask, 1), 1)
      let perTrace = tf.div(tf.sum(stepTerms, 1), len) as tf.Tensor1D
      if (traceW) perTrace = tf.mul(perTrace, traceW)
      return tf.neg(tf.mean(perTrace)) as tf.Scalar
    }
    let perTraceSum = tf.sum(stepTerms, 1) as tf.Tensor1D
    if (traceW) perTraceSum = tf.mul(perTraceSum, traceW)
    return tf.neg(tf.div(tf.sum(perTraceSum), tf.maximum(tf.sum(mask), 1))) as tf.Scalar
  })
}
