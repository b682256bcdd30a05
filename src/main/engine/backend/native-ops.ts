// Raw TensorFlow ops that tfjs does not wrap, reached through tfjs-node's binding on the native
// backend (issue 17: one TensorFlow kernel where tfjs would issue several). Each has a tfjs-op
// fallback with the same values (up to float rounding) for the other backends, and for a native
// build that lacks the kernel (the first failing call switches that op off for the process).
//   reluGrad(dy, y)       dy ⊙ 1[y > 0]              ReluGrad: 1 op for tf.mul(dy, tf.sign(y))
//   sigmoidGrad(y, dy)    dy ⊙ y(1 − y)              SigmoidGrad: 1 op for 3
//   layerNorm(x, g, b)    (x − mean)/√(var + ε)·g + b over the last axis, no gradient:
//                         oneDNN's _MklLayerNorm, 1 op for 9 (scoring and sampling passes)
//   matMul2d(a, b, tA, tB)  a·b of two matrices as TensorFlow's MatMul: tfjs issues BatchMatMulV2
//                         (3-D batched, up to 4× slower on the MLP's small shapes)
//   biasGrad(dy)          Σ over rows of dy [n, m] → [m] as BiasAddGrad: Sum over axis 0 costs 6×
//   matMulBias(x, W, b, act)  act(x·W + b) as one oneDNN kernel (_MklNativeFusedMatMul), for act
//                         linear, ReLU or GELU (tanh form): 1 op for 2–9. Its fused_ops attribute
//                         is a list of strings, which only a patched binding passes
//                         (binding-patch.ts); an unpatched one falls back to the tfjs ops.
//   targetLogSoftmax(logits, targets, true)  log softmax(logits)[target] per row and softmax −
//                         onehot: SparseSoftmaxCrossEntropyWithLogits, 1 op for ~8 passes over
//                         [n, V] (a language model's head, V = 49k: fewer temporaries of tens of MB)
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
  TF_ATTR_INT: number
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
  executeMultipleOutputs(name: string, attrs: Attr[], inputs: tf.Tensor[], numOutputs: number): tf.Tensor[]
  getInputTensorIds(tensors: tf.Tensor[]): number[]
}

/** The active backend as tfjs-node's, or null (wasm, cpu). */
export function nodeBackend(): NodeBackend | null {
  const be = tf.backend() as unknown as Partial<NodeBackend>
  const ok =
    be.binding &&
    typeof be.binding.executeOp === 'function' &&
    typeof be.executeSingleOutput === 'function' &&
    typeof be.executeMultipleOutputs === 'function' &&
    typeof be.getInputTensorIds === 'function'
  return ok ? (be as NodeBackend) : null
}

/** ops (or op variants) whose kernel failed once in this process: their fallback runs from then on */
const unavailable = new Set<string>()

/** Run `op` on the native backend, or null where it cannot (then the caller's fallback runs).
 *  `key` tells variants of one op apart (a fusion one build lacks while it has the others). */
function raw(op: string, attrs: (b: Binding) => Attr[], inputs: tf.Tensor[], cpuOnly = false, key = op): tf.Tensor | null {
  return rawOutputs(op, attrs, inputs, 1, cpuOnly, key)?.[0] ?? null
}

/** raw() for an op with `numOutputs` outputs */
function rawOutputs(op: string, attrs: (b: Binding) => Attr[], inputs: tf.Tensor[], numOutputs: number, cpuOnly = false, key = op): tf.Tensor[] | null {
  if (unavailable.has(key)) return null
  const be = nodeBackend()
  if (!be || (cpuOnly && be.binding.isUsingGpuDevice?.())) return null
  try {
    return numOutputs === 1 ? [be.executeSingleOutput(op, attrs(be.binding), inputs)] : be.executeMultipleOutputs(op, attrs(be.binding), inputs, numOutputs)
  } catch {
    unavailable.add(key)
    return null
  }
}

/** Whether the native kernel of `key` (an op name, or matMulBias's `_MklNativeFusedMatMul:<act>`)
 *  has failed in this process, so that its tfjs fallback runs (for tests and the profile). */
export const nativeOpUnavailable = (key: string): boolean => unavailable.has(key)

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

/** matMulBias's activations: GELU is the tanh form 0.5·u·(1 + tanh(√(2/π)(u + 0.044715u³))) */
export type FusedActivation = 'linear' | 'relu' | 'gelu'

const FUSED_OPS: Record<FusedActivation, string[]> = { linear: ['BiasAdd'], relu: ['BiasAdd', 'Relu'], gelu: ['BiasAdd', 'GeluApproximate'] }

/**
 * act(x·W + b) for rows x [n, k], W [k, m], b [m], as one kernel on the native CPU backend.
 * oneDNN's fused matmul is registered under a label of its own in eager mode (as _MklLayerNorm,
 * see layerNormNoGrad), hence the _kernel attribute. Elsewhere the same in tfjs ops.
 */
export function matMulBias(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor, act: FusedActivation = 'linear'): tf.Tensor2D {
  const y = raw(
    '_MklNativeFusedMatMul',
    (bd) => [
      floatT(bd),
      { name: 'transpose_a', type: bd.TF_ATTR_BOOL, value: false },
      { name: 'transpose_b', type: bd.TF_ATTR_BOOL, value: false },
      { name: 'num_args', type: bd.TF_ATTR_INT, value: 1 },
      { name: 'fused_ops', type: bd.TF_ATTR_STRING, value: FUSED_OPS[act] },
      { name: 'epsilon', type: bd.TF_ATTR_FLOAT, value: 0.0001 },
      { name: 'leakyrelu_alpha', type: bd.TF_ATTR_FLOAT, value: 0.2 },
      { name: '_kernel', type: bd.TF_ATTR_STRING, value: 'MklNameChangeOp' }
    ],
    [x, w, b],
    true,
    `_MklNativeFusedMatMul:${act}`
  )
  if (y) return y as tf.Tensor2D
  return tf.tidy(() => {
    const u = tf.add(tf.matMul(x, w), b)
    if (act === 'relu') return tf.relu(u)
    if (act === 'gelu') return tf.mul(tf.mul(u, 0.5), tf.add(1, tf.tanh(tf.mul(tf.add(u, tf.mul(tf.pow(u, 3), 0.044715)), Math.sqrt(2 / Math.PI)))))
    return u
  }) as tf.Tensor2D
}

/** a·b (a or b transposed first) of two matrices, as TensorFlow's 2-D MatMul kernel */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D, transposeA = false, transposeB = false): tf.Tensor2D {
  const y = raw('MatMul', (bd) => [floatT(bd), { name: 'transpose_a', type: bd.TF_ATTR_BOOL, value: transposeA }, { name: 'transpose_b', type: bd.TF_ATTR_BOOL, value: transposeB }], [a, b])
  return (y ?? tf.matMul(a, b, transposeA, transposeB)) as tf.Tensor2D
}

/** Σ over the rows of dy [n, m]: the gradient of a bias added to every row */
export function biasGrad(dy: tf.Tensor2D): tf.Tensor1D {
  const y = raw('BiasAddGrad', (bd) => [floatT(bd), { name: 'data_format', type: bd.TF_ATTR_STRING, value: 'NHWC' }], [dy])
  return (y ?? tf.sum(dy, 0)) as tf.Tensor1D
}

/**
 * log softmax(logits)[target] per row ([n]) and, with `grad`, softmax(logits) − onehot(target)
 * ([n, V]: the gradient of −lp in the logits); targets int32. With `grad`, TensorFlow's
 * SparseSoftmaxCrossEntropyWithLogits computes both in one kernel (its loss is −lp): on a head
 * chunk of SmolLM2 ([341, 49152], one thread) 114–152 ms against 118–127 ms for the tfjs ops,
 * with two [n, V] temporaries instead of ~6. Without, the tfjs ops (log-sum-exp and a gather,
 * 48–55 ms there) beat it (the kernel always writes the gradient too: 109–114 ms). targets must
 * be ids in 0..V−1 (the kernel refuses others; callers check ids before they reach the model).
 */
export function targetLogSoftmax(logits: tf.Tensor2D, targets: tf.Tensor1D, grad: boolean): { lp: tf.Tensor1D; pMinusOneHot: tf.Tensor2D | null } {
  const out = grad ? rawOutputs('SparseSoftmaxCrossEntropyWithLogits', (bd) => [floatT(bd), { name: 'Tlabels', type: bd.TF_ATTR_TYPE, value: bd.TF_INT32 }], [logits, targets], 2) : null
  if (out) {
    const lp = tf.neg(out[0]) as tf.Tensor1D
    out[0].dispose()
    return { lp, pMinusOneHot: out[1] as tf.Tensor2D }
  }
  const [n, V] = logits.shape
  const [lp, pMinusOneHot] = tf.tidy(() => {
    const lse = tf.logSumExp(logits, 1) as tf.Tensor1D
    const idx = tf.add(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(V, 'int32')), targets)
    const lp = tf.sub(tf.gather(tf.reshape(logits, [n * V]), idx), lse) as tf.Tensor1D
    return grad ? [lp, tf.sub(tf.exp(tf.sub(logits, tf.reshape(lse, [n, 1]))), tf.oneHot(targets, V)) as tf.Tensor2D] : [lp]
  })
  return { lp: lp as tf.Tensor1D, pMinusOneHot: (pMinusOneHot as tf.Tensor2D | undefined) ?? null }
}
