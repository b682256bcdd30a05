// Raw TensorFlow ops that tfjs does not wrap, reached through tfjs-node's binding on the native
// backend (issue 17: one TensorFlow kernel where tfjs would issue several). Each has a tfjs-op
// fallback with the same values (up to float rounding) for the other backends, and for a native
// build that lacks the kernel (the first failing call switches that op off for the process).
//   reluGrad(dy, y)       dy ⊙ 1[y > 0]              ReluGrad: 1 op for tf.mul(dy, tf.sign(y))
//   sigmoidGrad(y, dy)    dy ⊙ y(1 − y)              SigmoidGrad: 1 op for 3
//   layerNorm(x, g, b)    (x − mean)/√(var + ε)·g + b over the last axis, no gradient:
//                         oneDNN's _MklLayerNorm, 1 op for 9 (scoring and sampling passes)
//   statelessUniform      U[0, 1) from a seed, drawn by TensorFlow (Philox) on the device; no
//                         fallback (the caller draws on the host: other numbers)
import * as tf from '@tensorflow/tfjs'

export interface Attr {
  name: string
  type: number
  value: unknown
}

interface Binding {
  executeOp(name: string, attrs: Attr[], inputIds: number[], numOutputs: number): unknown
  isUsingGpuDevice?: () => boolean
  TF_ATTR_STRING: number
  TF_ATTR_BOOL: number
  TF_ATTR_TYPE: number
  TF_ATTR_SHAPE: number
  TF_ATTR_FLOAT: number
  TF_FLOAT: number
  TF_INT32: number
}

/** the part of tfjs-node 4.22's NodeJSKernelBackend used by the engine */
export interface NodeBackend {
  binding: Binding
  executeSingleOutput(name: string, attrs: Attr[], inputs: tf.Tensor[]): tf.Tensor
  getInputTensorIds(tensors: tf.Tensor[]): number[]
}

/** The active backend as tfjs-node's, or null (wasm, cpu). */
export function nodeBackend(): NodeBackend | null {
  const be = tf.backend() as unknown as Partial<NodeBackend>
  const ok = be.binding && typeof be.binding.executeOp === 'function' && typeof be.executeSingleOutput === 'function' && typeof be.getInputTensorIds === 'function'
  return ok ? (be as NodeBackend) : null
}

/** ops whose kernel failed once in this process: their fallback runs from then on */
const unavailable = new Set<string>()

/** Run `op` on the native backend, or null where it cannot (then the caller's fallback runs). */
function raw(op: string, attrs: (b: Binding) => Attr[], inputs: tf.Tensor[], cpuOnly = false): tf.Tensor | null {
  if (unavailable.has(op)) return null
  const be = nodeBackend()
  if (!be || (cpuOnly && be.binding.isUsingGpuDevice?.())) return null
  try {
    return be.executeSingleOutput(op, attrs(be.binding), inputs)
  } catch {
    unavailable.add(op)
    return null
  }
}

const floatT = (b: Binding): Attr => ({ name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT })

/** dy ⊙ 1[y > 0], the gradient through y = ReLU(x) (y or x: their signs agree where it matters) */
export function reluGrad(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return raw('ReluGrad', (b) => [floatT(b)], [dy, y]) ?? tf.mul(dy, tf.step(y))
}

/** dy ⊙ y(1 − y), the gradient through y = σ(x) */
export function sigmoidGrad(y: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  return raw('SigmoidGrad', (b) => [floatT(b)], [y, dy]) ?? tf.mul(dy, tf.mul(y, tf.sub(1, y)))
}

/**
 * (x − mean)/√(var + ε)·g + b over the last axis of rows x [n, d] (biased variance), with no
 * gradient: for forward passes that are not differentiated. The fallback is the same arithmetic
 * in tfjs ops. (TensorFlow labels _Mkl ops it reaches in eager mode for a name-changing rewrite
 * whose kernel does not exist for this op; an empty _kernel label selects the registered one.)
 */
export function layerNormNoGrad(x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor2D {
  const y = raw('_MklLayerNorm', (bd) => [floatT(bd), { name: 'epsilon', type: bd.TF_ATTR_FLOAT, value: eps }, { name: '_kernel', type: bd.TF_ATTR_STRING, value: '' }], [x, g, b], true)
  if (y) return y as tf.Tensor2D
  const xc = tf.sub(x, tf.mean(x, -1, true))
  return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps))), g), b) as tf.Tensor2D
}

/** U[0, 1) floats of `shape` from TensorFlow's StatelessRandomUniform (Philox) keyed by the
 *  64-bit seed [s0, s1] (the same seed, the same numbers); null off the native backend. */
export function statelessUniform(shape: number[], seed: [number, number]): tf.Tensor | null {
  if (unavailable.has('StatelessRandomUniform') || !nodeBackend()) return null
  const args = [tf.tensor1d(shape, 'int32'), tf.tensor1d(seed, 'int32')]
  try {
    return raw(
      'StatelessRandomUniform',
      (b) => [
        { name: 'dtype', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
        { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_INT32 },
        { name: 'Tseed', type: b.TF_ATTR_TYPE, value: b.TF_INT32 }
      ],
      args
    )
  } finally {
    tf.dispose(args)
  }
}
