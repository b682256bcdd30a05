// A dense ReLU network whose parameters are initialised from the seeded Rng (Glorot uniform
// weights, zero biases), so the same seed gives the same network on every backend.
import * as tf from '@tensorflow/tfjs'
import { variableOf } from '../variables.ts'
import { biasGrad, matMul2d, matMulBias, reluGrad } from '../backend/native-ops.ts'
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
    vars.push(variableOf(() => tf.tensor2d(glorotUniform(rng, a, b), [a, b]), trainable, uniqueName(`${name}/W${l}`)))
    vars.push(variableOf(() => tf.zeros([b]), trainable, uniqueName(`${name}/b${l}`)))
  }
  return vars
}

/** x [N, in] → [N, out]; ReLU between layers, none after the last. */
export function mlpForward(vars: tf.Variable[], x: tf.Tensor2D): tf.Tensor2D {
  return mlpForwardKeep(vars, x).out
}

/** x · W + b for rows x [N, in]: one fused kernel on the native CPU backend (native-ops.ts;
 *  not tf.fused.matMul, which tfjs-node runs as MatMul + Add around 3-D reshapes). It records no
 *  gradient: call it outside a gradient tape or inside a tf.customGrad forward. */
export function affine(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  return matMulBias(x, w as tf.Tensor2D, b)
}

/** The forward pass, keeping each layer's input (x, then every hidden ReLU output) for
 *  mlpBackward (no gradient of its own: see affine). */
export function mlpForwardKeep(vars: tf.Variable[], x: tf.Tensor2D): { out: tf.Tensor2D; inputs: tf.Tensor2D[] } {
  const inputs: tf.Tensor2D[] = []
  let h = x
  const L = vars.length / 2
  for (let l = 0; l < L; l++) {
    inputs.push(h)
    h = matMulBias(h, vars[2 * l] as tf.Tensor2D, vars[2 * l + 1], l < L - 1 ? 'relu' : 'linear')
  }
  return { out: h, inputs }
}

/** The gradients [dW0, db0, dW1, db1, …] of the MLP given d loss / d out [N, out] and the layer
 *  inputs mlpForwardKeep kept, written out: per layer dW = hᵀ·d, db = Σ_rows d, and
 *  d h = (d·Wᵀ) ⊙ 1[h > 0] below it (ReLU' from its output: ReLU(x) > 0 ⇔ x > 0). The
 *  input x gets no gradient. A handful of matrix products instead of the tape's generic graph
 *  (the ReLU gradient alone is 7 kernels there on the native backend; issue 17). */
export function mlpBackward(vars: tf.Variable[], inputs: tf.Tensor2D[], dOut: tf.Tensor2D): tf.Tensor[] {
  const L = vars.length / 2
  const grads: tf.Tensor[] = new Array(vars.length)
  let d = dOut
  for (let l = L - 1; l >= 0; l--) {
    const h = inputs[l]
    grads[2 * l] = matMul2d(h, d, true, false)
    grads[2 * l + 1] = biasGrad(d)
    if (l > 0) d = reluGrad(matMul2d(d, vars[2 * l] as tf.Tensor2D, false, true), h) as tf.Tensor2D
  }
  return grads
}

export function cloneVariables(vars: tf.Variable[], trainable: boolean): tf.Variable[] {
  return vars.map((v) => variableOf(() => v.clone(), trainable, uniqueName(v.name.replace(/_\d+$/, ''))))
}
