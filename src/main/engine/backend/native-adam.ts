// TensorFlow's own fused Adam kernel on the native backend (issue 17). tfjs has no in-place ops:
// Adam written with tfjs ops is ~14 kernels a parameter group, each allocating and writing a
// new tensor the size of the group. TensorFlow's ResourceApplyAdam updates θ, m and v in place
// in one kernel; tfjs does not wrap it, so it is reached here through tfjs-node's binding (the
// same executeOp every tfjs-node kernel calls), on TensorFlow resource variables. Measured on
// the control MLP's parameters (137k floats, 1 thread): 0.83 ms CPU a step against 1.6 ms for
// the same update in tfjs ops. Only the optimizer uses this (train/optim.ts); on the other
// backends it is null and the optimizer's tfjs-op update runs.
import * as tf from '@tensorflow/tfjs'
import { nodeBackend, type Attr, type NodeBackend } from './native-ops.ts'

let uid = 0

/** A float32 variable held by TensorFlow (a resource), which kernels can update in place. */
export class TfVariable {
  private constructor(
    private readonly be: NodeBackend,
    private readonly handle: tf.Tensor
  ) {}

  /** A resource variable holding a copy of `value`, on the native backend; null elsewhere. */
  static from(value: tf.Tensor): TfVariable | null {
    const be = nodeBackend()
    if (!be) return null
    const b = be.binding
    const handle = be.executeSingleOutput(
      'VarHandleOp',
      [
        { name: 'container', type: b.TF_ATTR_STRING, value: '' },
        { name: 'shared_name', type: b.TF_ATTR_STRING, value: `iwsft_adam_${process.pid}_${++uid}` },
        { name: 'dtype', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
        { name: 'shape', type: b.TF_ATTR_SHAPE, value: value.shape }
      ],
      []
    )
    const v = new TfVariable(be, tf.keep(handle))
    v.write(value)
    return v
  }

  private run(op: string, attrs: Attr[], inputs: tf.Tensor[]): void {
    this.be.binding.executeOp(op, attrs, this.be.getInputTensorIds(inputs), 0)
  }

  /** the current value, as a tensor of its own */
  read(): tf.Tensor {
    const b = this.be.binding
    return this.be.executeSingleOutput('ReadVariableOp', [{ name: 'dtype', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT }], [this.handle])
  }

  write(value: tf.Tensor): void {
    const b = this.be.binding
    this.run(
      'AssignVariableOp',
      [
        { name: 'dtype', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
        { name: 'validate_shape', type: b.TF_ATTR_BOOL, value: true }
      ],
      [this.handle, value]
    )
  }

  /** θ ← θ − α·d, in place (ResourceApplyGradientDescent) */
  descend(alpha: tf.Scalar, d: tf.Tensor): void {
    const b = this.be.binding
    this.run(
      'ResourceApplyGradientDescent',
      [
        { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
        { name: 'use_locking', type: b.TF_ATTR_BOOL, value: false }
      ],
      [this.handle, alpha, d]
    )
  }

  /**
   * One Adam step on θ = this with moments m, v, in place (ResourceApplyAdam):
   *   m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;  θ ← θ − lr_t m / (√v + ε̂),
   * lr_t = lr √(1−β2^t) / (1−β1^t). With ε̂ = ε √(1−β2^t) that is θ − lr m̂ / (√v̂ + ε), the
   * update of optim.ts (the same arithmetic up to float rounding).
   */
  adam(m: TfVariable, v: TfVariable, grad: tf.Tensor, s: { beta1Power: tf.Scalar; beta2Power: tf.Scalar; lr: tf.Scalar; beta1: tf.Scalar; beta2: tf.Scalar; epsHat: tf.Scalar }): void {
    const b = this.be.binding
    this.run(
      'ResourceApplyAdam',
      [
        { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
        { name: 'use_locking', type: b.TF_ATTR_BOOL, value: false },
        { name: 'use_nesterov', type: b.TF_ATTR_BOOL, value: false }
      ],
      [this.handle, m.handle, v.handle, s.beta1Power, s.beta2Power, s.lr, s.beta1, s.beta2, s.epsHat, grad]
    )
  }

  dispose(): void {
    const b = this.be.binding
    this.run('DestroyResourceOp', [{ name: 'ignore_lookup_error', type: b.TF_ATTR_BOOL, value: true }], [this.handle])
    this.handle.dispose()
  }
}
