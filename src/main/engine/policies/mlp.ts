// A dense ReLU network whose parameters are initialised from the seeded Rng (Glorot uniform
// weights, zero biases), so the same seed gives the same network on every backend.
import * as tf from '@tensorflow/tfjs'
import type { Rng } from '../rng.ts'

let uid = 0
/** tfjs variable names are global: suffix a counter so copies (q, π_ref) never collide. */
export function uniqueName(base: string): string {
  return `${base}_${++uid}`
}

export function glorotUniform(rng: Rng, fanIn: number, fanOut: number): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut))
  const out = new Float32Array(fanIn * fanOut)
  for (let i = 0; i < out.length; i++) out[i] = (rng.next() * 2 - 1) * limit
  return out
}

/** Variables [W0, b0, W1, b1, …] for layer sizes [in, h1, …, out]. */
export function mlpVariables(rng: Rng, sizes: number[], name: string, trainable = true): tf.Variable[] {
  const vars: tf.Variable[] = []
  for (let l = 0; l + 1 < sizes.length; l++) {
    const [a, b] = [sizes[l], sizes[l + 1]]
    vars.push(tf.variable(tf.tensor2d(glorotUniform(rng, a, b), [a, b]), trainable, uniqueName(`${name}/W${l}`)))
    vars.push(tf.variable(tf.zeros([b]), trainable, uniqueName(`${name}/b${l}`)))
  }
  return vars
}

/** x [N, in] → [N, out]; ReLU between layers, none after the last. */
export function mlpForward(vars: tf.Variable[], x: tf.Tensor2D): tf.Tensor2D {
  let h = x
  const L = vars.length / 2
  for (let l = 0; l < L; l++) {
    h = tf.add(tf.matMul(h, vars[2 * l] as tf.Tensor2D), vars[2 * l + 1])
    if (l < L - 1) h = tf.relu(h)
  }
  return h
}

export function cloneVariables(vars: tf.Variable[], trainable: boolean): tf.Variable[] {
  return vars.map((v) => tf.variable(v.clone(), trainable, uniqueName(v.name.replace(/_\d+$/, ''))))
}
