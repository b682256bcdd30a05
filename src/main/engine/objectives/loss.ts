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
  // The loss is linear in log π with the weights held constant, so its gradient is a constant
  // coefficient per step, made here with the value: one multiply on the backward pass instead
  // of the tape's chain of reductions and broadcasts (issue 17). The coefficient is the product
  // the chain rule gives through the ops below, in their order: −1/B (mean; "token": −1/count),
  // × w(τ), / |τ| ("trace"), × w_t, × mask.
  const f = tf.customGrad((lp, save) => {
    const x = lp as tf.Tensor2D
    const B = x.shape[0]
    let stepTerms = tf.mul(x, mask) as tf.Tensor2D
    if (stepW) stepTerms = tf.mul(stepTerms, stepW)
    let value: tf.Scalar
    // d loss / d (Σ_t terms of a trace): [B] or one number for all
    let coef: tf.Tensor
    if (norm === 'trace') {
      const len = tf.maximum(tf.sum(mask, 1), 1)
      let perTrace = tf.div(tf.sum(stepTerms, 1), len) as tf.Tensor1D
      if (traceW) perTrace = tf.mul(perTrace, traceW)
      value = tf.neg(tf.mean(perTrace)) as tf.Scalar
      const mean = tf.div(-1, B)
      coef = tf.div(traceW ? tf.mul(mean, traceW) : mean, len)
    } else {
      let perTraceSum = tf.sum(stepTerms, 1) as tf.Tensor1D
      if (traceW) perTraceSum = tf.mul(perTraceSum, traceW)
      const count = tf.maximum(tf.sum(mask), 1)
      value = tf.neg(tf.div(tf.sum(perTraceSum), count)) as tf.Scalar
      const perCount = tf.div(-1, count)
      coef = traceW ? tf.mul(perCount, traceW) : perCount
    }
    let grad = coef.rank === 1 ? tf.reshape(coef, [B, 1]) : coef
    if (stepW) grad = tf.mul(grad, stepW)
    ;(save as (t: tf.Tensor[]) => void)([tf.mul(grad, mask)])
    return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(saved[0], dy) }
  })
  return tf.tidy(() => f(logp) as tf.Scalar)
}
