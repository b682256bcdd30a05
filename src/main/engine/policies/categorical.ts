// A categorical policy π(a|s) = softmax(f(s))_a over actDim discrete actions. With obsDim 0
// and no hidden layers, f is a single vector of logits: the context-free bandit policy,
// uniform at initialisation (logits 0), which is the bandit's π_ref.
import * as tf from '@tensorflow/tfjs'
import { variableOf } from '../variables.ts'
import { readBack } from '../backend/readback.ts'
import type { Rng } from '../rng.ts'
import { cloneVariables, mlpBackward, mlpForward, mlpForwardKeep, mlpVariables, uniqueName } from './mlp.ts'
import type { Batch, Policy, PolicySpec } from './policy.ts'

export interface CategoricalSpec extends PolicySpec {
  kind: 'categorical'
  hidden: number[]
}

export class CategoricalPolicy implements Policy {
  readonly variables: tf.Variable[]

  constructor(
    readonly spec: CategoricalSpec,
    rng: Rng | null,
    vars?: tf.Variable[],
    trainable = true
  ) {
    if (vars) this.variables = vars
    else if (spec.obsDim === 0) this.variables = [variableOf(() => tf.zeros([spec.actDim]), trainable, uniqueName('categorical/logits'))]
    else {
      if (!rng) throw new Error('CategoricalPolicy needs an Rng to initialise')
      this.variables = mlpVariables(rng, [spec.obsDim, ...spec.hidden, spec.actDim], 'categorical', trainable)
    }
  }

  /** logits [B·T, A] (context-free: [1, A] broadcast) */
  private logitsFor(obs: tf.Tensor3D | null, n: number): tf.Tensor2D {
    if (this.spec.obsDim === 0) return tf.reshape(this.variables[0], [1, this.spec.actDim])
    if (!obs) throw new Error('categorical policy with obsDim > 0 needs observations')
    return mlpForward(this.variables, tf.reshape(obs, [n, this.spec.obsDim]))
  }

  logProbs(batch: Batch): tf.Tensor2D {
    return tf.tidy(() => {
      const n = batch.B * batch.T
      const { obsDim, actDim } = this.spec
      if (obsDim > 0 && !batch.obs) throw new Error('categorical policy with obsDim > 0 needs observations')
      const x = obsDim > 0 ? (tf.reshape(batch.obs!, [n, obsDim]) as tf.Tensor2D) : null
      const onehot = tf.oneHot(tf.reshape(batch.actions, [n]) as tf.Tensor1D, actDim) as tf.Tensor2D
      return tf.reshape(this.logProbRows(x, onehot), [batch.B, batch.T]) as tf.Tensor2D
    })
  }

  /** log softmax(f(s))_a of N rows [N] (x null: the context-free logits), with its backward pass
   *  written out (tf.customGrad): d log p_a / d logits = onehot_a − softmax (issue 17). */
  private logProbRows(x: tf.Tensor2D | null, onehot: tf.Tensor2D): tf.Tensor1D {
    const k = this.variables.length
    const A = this.spec.actDim
    const f = tf.customGrad((...args) => {
      const vars = args.slice(0, k) as tf.Variable[]
      const save = args[k] as unknown as (t: tf.Tensor[]) => void
      const fwd = x ? mlpForwardKeep(vars, x) : { out: tf.reshape(vars[0], [1, A]) as tf.Tensor2D, inputs: [] }
      const shifted = tf.sub(fwd.out, tf.max(fwd.out, -1, true))
      const e = tf.exp(shifted)
      const sumE = tf.sum(e, -1, true)
      const lp = tf.sum(tf.mul(onehot, tf.sub(shifted, tf.log(sumE))), 1)
      save([...fwd.inputs, tf.div(e, sumE), onehot])
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const [probs, onehot] = saved.slice(-2) as tf.Tensor2D[]
        if (!x) {
          // the same logits for every row: Σ_rows dy·(onehot − p) = dyᵀ·onehot − (Σ dy)·p
          return [tf.reshape(tf.sub(tf.matMul(tf.reshape(dy, [1, -1]), onehot), tf.mul(tf.sum(dy), probs)), [A])]
        }
        const dLogits = tf.mul(tf.sub(onehot, probs), tf.reshape(dy, [-1, 1])) as tf.Tensor2D
        return mlpBackward(vars, saved.slice(0, -2) as tf.Tensor2D[], dLogits)
      }
      return { value: lp, gradFunc }
    })
    return f(...this.variables) as tf.Tensor1D
  }

  /** Action probabilities for N contexts: [N × A] row-major. */
  probs(obs: Float32Array, n: number): Float32Array {
    const probs = tf.tidy(() => {
      const o = this.spec.obsDim ? tf.tensor3d(obs, [n, 1, this.spec.obsDim]) : null
      const p = tf.softmax(this.logitsFor(o, this.spec.obsDim ? n : 1))
      return this.spec.obsDim ? p : tf.tile(p, [n, 1])
    })
    return readBack(probs, { dispose: true }) as Float32Array
  }

  act(obs: Float32Array, n: number, rng: Rng, deterministic: boolean): Int32Array {
    const A = this.spec.actDim
    const p = this.probs(obs, n)
    const out = new Int32Array(n)
    for (let i = 0; i < n; i++) {
      const row = p.subarray(i * A, (i + 1) * A)
      if (deterministic) {
        let best = 0
        for (let a = 1; a < A; a++) if (row[a] > row[best]) best = a
        out[i] = best
      } else {
        let u = rng.next()
        let a = 0
        while (a < A - 1 && u >= row[a]) u -= row[a++]
        out[i] = a
      }
    }
    return out
  }

  clone(trainable: boolean): CategoricalPolicy {
    return new CategoricalPolicy(this.spec, null, cloneVariables(this.variables, trainable), trainable)
  }

  dispose(): void {
    for (const v of this.variables) v.dispose()
  }
}
