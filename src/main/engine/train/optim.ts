// Adam and AdamW (decoupled weight decay) with bias correction, a linear warm-up then cosine
// (or constant) learning-rate schedule, and global gradient-norm clipping. Written here rather
// than taken from tf.train so that the schedule, the decay and the clipping are explicit and
// identical on every backend.
import * as tf from '@tensorflow/tfjs'
import type { RunConfig } from '../../../shared/config.ts'

export type OptimConfig = RunConfig['optim']

/** lr at step s (0-based) of `total`: linear warm-up over `warmup_steps`, then cosine to 0. */
export function learningRate(o: OptimConfig, step: number, total: number): number {
  const w = o.warmup_steps
  if (w > 0 && step < w) return (o.lr * (step + 1)) / w
  if (o.schedule === 'constant') return o.lr
  const progress = total > w ? Math.min(1, (step - w) / (total - w)) : 1
  return o.lr * 0.5 * (1 + Math.cos(Math.PI * progress))
}

export class AdamOptimizer {
  private readonly m: tf.Variable[]
  private readonly v: tf.Variable[]
  private t = 0

  constructor(
    private readonly params: tf.Variable[],
    private readonly o: OptimConfig
  ) {
    this.m = params.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p), false)))
    this.v = params.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p), false)))
  }

  /** Clip `grads` to the global norm (if configured), take one step, and return the global
   *  gradient norm before clipping as a scalar tensor (the caller reads it with the loss). */
  step(grads: tf.Tensor[], lr: number): tf.Scalar {
    this.t++
    const [b1, b2] = this.o.betas
    const bc1 = 1 - Math.pow(b1, this.t)
    const bc2 = 1 - Math.pow(b2, this.t)
    const norm = globalNorm(grads)
    tf.tidy(() => {
      let scale: tf.Scalar | null = null
      if (this.o.clip_grad_norm !== null) {
        // scale = min(1, c / ‖g‖)
        scale = tf.minimum(tf.scalar(1), tf.div(this.o.clip_grad_norm, tf.maximum(norm, 1e-12))) as tf.Scalar
      }
      this.params.forEach((p, i) => {
        let g = grads[i]
        if (scale) g = tf.mul(g, scale)
        // Adam: L2 decay enters the gradient; AdamW: decay is applied to θ directly
        if (this.o.kind === 'adam' && this.o.weight_decay > 0) g = tf.add(g, tf.mul(p, this.o.weight_decay))
        const m = tf.add(tf.mul(this.m[i], b1), tf.mul(g, 1 - b1))
        const v = tf.add(tf.mul(this.v[i], b2), tf.mul(tf.square(g), 1 - b2))
        this.m[i].assign(m)
        this.v[i].assign(v)
        let update = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), this.o.eps))
        if (this.o.kind === 'adamw' && this.o.weight_decay > 0) update = tf.add(update, tf.mul(p, this.o.weight_decay))
        p.assign(tf.sub(p, tf.mul(update, lr)))
      })
    })
    return norm
  }

  /** Adam's moments and step count, for checkpoints that resume exactly. */
  getState(): { t: number; m: Float32Array[]; v: Float32Array[] } {
    return { t: this.t, m: this.m.map((x) => x.dataSync() as Float32Array), v: this.v.map((x) => x.dataSync() as Float32Array) }
  }

  setState(s: { t: number; m: Float32Array[]; v: Float32Array[] }): void {
    if (s.m.length !== this.m.length || s.v.length !== this.v.length) throw new Error('optimizer state does not match the policy\'s parameters')
    this.t = s.t
    this.m.forEach((x, i) => x.assign(tf.tensor(s.m[i], x.shape)))
    this.v.forEach((x, i) => x.assign(tf.tensor(s.v[i], x.shape)))
  }

  dispose(): void {
    for (const x of [...this.m, ...this.v]) x.dispose()
  }
}

function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar)
}
