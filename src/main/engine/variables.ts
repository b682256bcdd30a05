// Making a tf.Variable from a freshly made tensor. tf.variable(x) shares x's data and leaves x
// alive, so `tf.variable(tf.zeros(…))` leaks the zeros tensor (and the data, while it lives):
// every policy's initial weights and every clone used to. The tensor is made and dropped here.
import * as tf from '@tensorflow/tfjs'

/** A variable holding the tensor `init` makes (made inside a tidy, so only the variable stays). */
export function variableOf(init: () => tf.Tensor, trainable: boolean, name?: string, dtype?: tf.DataType): tf.Variable {
  return tf.tidy(() => tf.variable(init(), trainable, name, dtype))
}
