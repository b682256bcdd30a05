// Importance weights, exactly as science.md ("Importance weights") describes them. This is
// the one implementation: training, weight snapshots, the inspector and imported log-probs
// all call it. Everything is formed in log space and exponentiated last, so a trace whose
// log ratio sums to +1200 gives the clamp's upper bound, not Infinity or NaN.
import * as tf from '@tensorflow/tfjs'
import type { WeightSettings } from '../../shared/config.ts'

export type TraceWeightSettings = Pick<WeightSettings, 'temp' | 'aggregate' | 'per_step' | 'clamp' | 'normalize'>

/** ρ_t = log π_q(a_t|s_t) − log π_ref(a_t|s_t), with the optional per-step transform g:
 *  a clip of ρ_t, or a clip of the ratio exp(ρ_t) to [α_min, α_max] (= ρ_t to [log α_min, log α_max]). */
export function rho(logq: tf.Tensor2D, logref: tf.Tensor2D, perStep: WeightSettings['per_step']): tf.Tensor2D {
  return tf.tidy(() => {
    const r = tf.sub(logq, logref) as tf.Tensor2D
    if (!perStep) return r
    const [lo, hi] = 'clip_rho' in perStep ? perStep.clip_rho : [Math.log(perStep.clip_ratio[0]), Math.log(perStep.clip_ratio[1])]
    return tf.clipByValue(r, lo, hi) as tf.Tensor2D
  })
}

/** Raw log weight per trace, paper eq. 11: log w(τ) = k · Σ_t mask_t · g(ρ_t), with
 *  k = temp / |τ| ("mean": a temperature on the mean log ratio) or k = temp ("sum").
 *  |τ| counts masked steps only, so padding and prompt tokens never enter. Returns [B].
 *  `perTraceLength`: max(|τ|, 1) of each row counted on the host (data/batch.ts maskLengths);
 *  without it, reduced from `mask` on the device (the same numbers). */
export function logWeightRaw(logq: tf.Tensor2D, logref: tf.Tensor2D, mask: tf.Tensor2D, s: TraceWeightSettings, perTraceLength?: Float32Array): tf.Tensor1D {
  return tf.tidy(() => {
    const g = rho(logq, logref, s.per_step)
    const sum = tf.sum(tf.mul(g, mask), 1)
    if (s.aggregate === 'sum') return tf.mul(sum, s.temp) as tf.Tensor1D
    const len = perTraceLength ? tf.tensor1d(perTraceLength) : tf.maximum(tf.sum(mask, 1), 1)
    return tf.mul(tf.div(sum, len), s.temp) as tf.Tensor1D
  })
}

/** The weight used in the loss: w = clamp(exp(log w_raw), w_min, w_max) — a clamp on the weight
 *  itself, applied as a clip of log w so nothing overflows — then, if `normalize`, batch
 *  self-normalisation w_i · B / Σ_j w_j (the batch mean stays 1). */
export function clampedWeight(logWRaw: tf.Tensor1D, s: TraceWeightSettings): tf.Tensor1D {
  return tf.tidy(() => {
    const [wMin, wMax] = s.clamp
    let logw: tf.Tensor1D = tf.minimum(logWRaw, Math.log(wMax))
    if (wMin > 0) logw = tf.maximum(logw, Math.log(wMin))
    // w_i · B / Σ_j w_j = B · softmax(log w)_i: one kernel (it shifts by the max, so nothing
    // overflows) where exp(log w − logsumexp(log w) + log B) is ~10 small ones (issue 17)
    if (s.normalize) return tf.mul(tf.softmax(logw), logWRaw.shape[0]) as tf.Tensor1D
    return tf.exp(logw) as tf.Tensor1D
  })
}

/** Per-step variant: w_t = clamp(exp(ρ_t), lo, hi) on each unmasked step, 0 on masked ones;
 *  no temperature. Returns [B, T]. */
export function perStepWeight(logq: tf.Tensor2D, logref: tf.Tensor2D, mask: tf.Tensor2D, stepClip: [number, number]): tf.Tensor2D {
  return tf.tidy(() => {
    const [lo, hi] = stepClip
    const r = tf.sub(logq, logref)
    // clip in log space first so exp never overflows; the lower bound 0 has no log
    const logHi = Math.log(hi)
    let lr = tf.minimum(r, logHi)
    if (lo > 0) lr = tf.maximum(lr, Math.log(lo))
    return tf.mul(tf.exp(lr), mask) as tf.Tensor2D
  })
}

/** Values the gradient never flows through, computed under tf.variableGrads with the tape off:
 *  f runs as the forward pass of a tf.customGrad with no inputs. The tape records none of a
 *  customGrad's inner ops, and a node with no inputs lies on no path from θ, so whatever f reads
 *  (log π_θ itself: q = π_θ with stop-gradient, "current" q) enters as a constant. No read-back
 *  and re-upload, no clone, and none of the tape's bookkeeping (a node and a clone of each saved
 *  tensor) for the weight ops (issue 17). Returns f's tensors: the first as the kernel's
 *  output, the others kept (the caller disposes them). */
export function untaped(f: () => tf.Tensor[]): tf.Tensor[] {
  let rest: tf.Tensor[] = []
  const kernel = tf.customGrad((() => {
    const outs = f()
    rest = outs.slice(1).map((t) => tf.keep(t))
    return { value: outs[0], gradFunc: () => [] }
  }) as unknown as Parameters<typeof tf.customGrad>[0])
  return [kernel() as tf.Tensor, ...rest]
}
