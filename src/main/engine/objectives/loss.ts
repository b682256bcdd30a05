// The objectives of science.md ("Objectives"): every method minimises a weighted negative
// log-likelihood of its (curated) traces; the weights are never differentiated.
//   BC, SFT, SFT(Q):   L = −(1/|τ|) log π_θ(τ)                  (w = 1)
//   iw-SFT, iw-SFT(Q): L = −w(τ) (1/|τ|) log π_θ(τ)
//   per-step:          L = −(1/|τ|) Σ_t w_t log π_θ(a_t|s_t)
// Two normalisations: "trace" = per-trace mean over its masked steps, then the batch mean
// (authors' control code); "token" = sum over all masked steps of the batch divided by their
// count (authors' LLM code).
import * as tf from '@tensorflow/tfjs'
import type { MaskLengths } from '../data/batch.ts'

export type LossNorm = 'trace' | 'token'

/**
 * @param logp  [B, T] log π_θ(a_t|s_t)
 * @param mask  [B, T] 1 where the step counts
 * @param traceW [B] per-trace weights, or null (w = 1)
 * @param stepW  [B, T] per-step weights, or null
 * @param lengths the mask's counts, from the host (the trainer); without them they are reduced
 *   from `mask` on the device. The same float32 numbers either way.
 */
export function weightedNll(logp: tf.Tensor2D, mask: tf.Tensor2D, traceW: tf.Tensor1D | null, stepW: tf.Tensor2D | null, norm: LossNorm, lengths?: MaskLengths): tf.Scalar {
  // With the weights held constant the loss is linear in log π: L = Σ_{b,t} c_bt log π_bt with
  //   c_bt = −w(τ_b) w_t mask_bt / (B |τ_b|)   ("trace"),   −w(τ_b) w_t mask_bt / Σ mask   ("token").
  // So c is made once, from the mask and the weights, and is both the loss's gradient (one
  // multiply on the backward pass instead of the tape's chain of reductions and broadcasts,
  // issue 17) and, summed against log π, its value. It is formed in the order the chain rule
  // runs through L = −mean_b(w_b Σ_t w_t mask log π / |τ_b|): −1/B, × w(τ), / |τ|, × w_t, × mask.
  const f = tf.customGrad((lp, save) => {
    const x = lp as tf.Tensor2D
    const B = x.shape[0]
    // d L / d (Σ_t w_t mask_t log π_t of trace b): [B, 1] or one number for all
    let c: tf.Tensor
    if (norm === 'trace') {
      if (lengths && !traceW) {
        // −(1/B)/|τ_b| per row, one upload; float32 division is correctly rounded on the host
        // (in double, then rounded) as on the device, so this is bit-identical to the kernel
        const b1 = Math.fround(-1 / B)
        c = tf.tensor2d(
          lengths.perTrace.map((l) => Math.fround(b1 / l)),
          [B, 1]
        )
      } else {
        const len = lengths ? tf.tensor1d(lengths.perTrace) : tf.maximum(tf.sum(mask, 1), 1)
        c = tf.reshape(traceW ? tf.div(tf.mul(traceW, -1 / B), len) : tf.div(-1 / B, len), [B, 1])
      }
    } else {
      const perCount = lengths ? tf.scalar(Math.fround(-1 / lengths.total)) : tf.div(-1, tf.maximum(tf.sum(mask), 1))
      c = traceW ? tf.reshape(tf.mul(perCount, traceW), [B, 1]) : perCount
    }
    if (stepW) c = tf.mul(c, stepW)
    c = tf.mul(c, mask)
    ;(save as (t: tf.Tensor[]) => void)([c])
    return { value: tf.sum(tf.mul(c, x)) as tf.Scalar, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(saved[0], dy) }
  })
  return tf.tidy(() => f(logp) as tf.Scalar)
}
