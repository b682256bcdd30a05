// The control MLP's training step, timed on one backend: 17 inputs → 3 × 256 ReLU → 6 outputs,
// batch 256, Adam, mean squared error, the loss read back every step (as a training loop that
// logs it does). Weights come from a fixed seed so every backend runs the same numbers.
import * as tf from '@tensorflow/tfjs'
import { variableOf } from '../variables.ts'
import { activeBackend, initBackend, type BackendName } from './index.ts'

export const MLP_SHAPE = { inputs: 17, hidden: [256, 256, 256], outputs: 6, batch: 256 } as const

/** Deterministic uniform(-a, a) floats (mulberry32), so parameters do not depend on the backend's RNG. */
export function seededFloats(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296
    out[i] = (2 * u - 1) * scale
  }
  return out
}

/** ms per training step of the control MLP on `backend` (switches to it, and back afterwards). */
export async function benchMlpStep(backend: BackendName, steps: number): Promise<number> {
  const before = activeBackend()
  await initBackend(backend)
  try {
    return runMlpBench(Math.max(1, Math.floor(steps)))
  } finally {
    if (before && before !== backend) await initBackend(before)
  }
}

function runMlpBench(steps: number): number {
  const { inputs, hidden, outputs, batch } = MLP_SHAPE
  const sizes = [inputs, ...hidden, outputs]
  const vars: tf.Variable[] = []
  for (let l = 0; l + 1 < sizes.length; l++) {
    const fanIn = sizes[l]
    vars.push(variableOf(() => tf.tensor2d(seededFloats(fanIn * sizes[l + 1], 11 + l, Math.sqrt(6 / fanIn)), [fanIn, sizes[l + 1]]), true, `bench_w${l}`))
    vars.push(variableOf(() => tf.zeros([sizes[l + 1]]), true, `bench_b${l}`))
  }
  const x = tf.tensor2d(seededFloats(batch * inputs, 101, 1), [batch, inputs])
  const y = tf.tensor2d(seededFloats(batch * outputs, 102, 1), [batch, outputs])
  const opt = tf.train.adam(1e-3)
  const lossFn = (): tf.Scalar =>
    tf.tidy(() => {
      let h: tf.Tensor2D = x
      for (let l = 0; l < vars.length; l += 2) {
        h = tf.add(tf.matMul(h, vars[l] as tf.Tensor2D), vars[l + 1])
        if (l + 2 < vars.length) h = tf.relu(h)
      }
      return tf.losses.meanSquaredError(y, h) as tf.Scalar
    })
  const step = (): number => {
    const { value, grads } = tf.variableGrads(lossFn, vars)
    opt.applyGradients(grads as tf.NamedTensorMap as Parameters<typeof opt.applyGradients>[0])
    const loss = value.dataSync()[0]
    tf.dispose([value, ...Object.values(grads)])
    return loss
  }
  try {
    for (let i = 0; i < 3; i++) step() // warm-up: kernel compilation, allocator
    const t0 = performance.now()
    let last = 0
    for (let i = 0; i < steps; i++) last = step()
    const ms = (performance.now() - t0) / steps
    if (!Number.isFinite(last)) throw new Error(`MLP bench loss is ${last}`)
    return ms
  } finally {
    opt.dispose()
    tf.dispose([x, y, ...vars])
  }
}
