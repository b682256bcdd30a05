// The control policy of science.md: an MLP (3 hidden layers of 256, ReLU) giving the mean
// tanh(net(s)), and one learned, state-independent log-std per action dimension clamped to
// [log_std_min, log_std_max]; log π(a|s) is summed over action dimensions.
import * as tf from '@tensorflow/tfjs'
import { variableOf } from '../variables.ts'
import { readBackAll } from '../backend/readback.ts'
import type { Rng } from '../rng.ts'
import { biasGrad } from '../backend/native-ops.ts'
import { cloneVariables, mlpBackward, mlpForward, mlpForwardKeep, mlpVariables, uniqueName } from './mlp.ts'
import type { Batch, Policy, PolicySpec } from './policy.ts'

export interface GaussianMlpSpec extends PolicySpec {
  kind: 'gaussian-mlp'
  hidden: number[]
  logStdMin: number
  logStdMax: number
}

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI)

export class GaussianMlpPolicy implements Policy {
  readonly variables: tf.Variable[]

  constructor(
    readonly spec: GaussianMlpSpec,
    rng: Rng | null,
    vars?: tf.Variable[],
    trainable = true
  ) {
    if (vars) this.variables = vars
    else {
      if (!rng) throw new Error('GaussianMlpPolicy needs an Rng to initialise')
      const net = mlpVariables(rng, [spec.obsDim, ...spec.hidden, spec.actDim], 'gaussian', trainable)
      this.variables = [...net, variableOf(() => tf.zeros([spec.actDim]), trainable, uniqueName('gaussian/log_std'))]
    }
  }

  private get net(): tf.Variable[] {
    return this.variables.slice(0, -1)
  }

  private logStd(): tf.Tensor1D {
    return tf.clipByValue(this.variables[this.variables.length - 1], this.spec.logStdMin, this.spec.logStdMax) as tf.Tensor1D
  }

  mean(obs2d: tf.Tensor2D): tf.Tensor2D {
    return tf.tanh(mlpForward(this.net, obs2d))
  }

  logProbs(batch: Batch): tf.Tensor2D {
    return tf.tidy(() => {
      if (!batch.obs) throw new Error('the Gaussian MLP policy needs observations')
      const n = batch.B * batch.T
      const { obsDim, actDim } = this.spec
      return this.logProbRows(tf.reshape(batch.obs, [n, obsDim]), tf.reshape(batch.actions, [n, actDim]), [batch.B, batch.T])
    })
  }

  /** log π(a|s) of N = B·T rows as [B, T], with its backward pass written out (tf.customGrad): for
   *  z = (a − μ)/σ, d/dμ = z/σ, through tanh' = 1 − μ², and d/d log σ_d = z_d² − 1 where the
   *  clamp passes it (issue 17: a few ops instead of the tape's generic graph). */
  private logProbRows(x: tf.Tensor2D, a: tf.Tensor2D, shape: [number, number]): tf.Tensor2D {
    const { actDim, logStdMin, logStdMax } = this.spec
    const k = this.variables.length
    const f = tf.customGrad((...args) => {
      const vars = args.slice(0, k) as tf.Variable[]
      const save = args[k] as unknown as (t: tf.Tensor[]) => void
      const { out, inputs } = mlpForwardKeep(vars.slice(0, -1), x)
      const mu = tf.tanh(out)
      const logStd = tf.clipByValue(vars[k - 1], logStdMin, logStdMax)
      const std = tf.exp(logStd)
      const z = tf.div(tf.sub(a, mu), std)
      // Σ_d [ −½ z_d² − log σ_d − ½ log 2π ]
      const lp = tf.reshape(tf.sub(tf.sum(tf.mul(tf.square(z), -0.5), 1), tf.add(tf.sum(logStd), actDim * HALF_LOG_2PI)), shape)
      // the clamp's gradient is 1 inside [min, max] (bounds included), 0 outside
      const inRange = tf.cast(tf.equal(logStd, vars[k - 1]), 'float32')
      save([...inputs, mu, z, std, inRange])
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const L = saved.length - 4
        const [mu, z, std, inRange] = saved.slice(L)
        const dyc = tf.reshape(dy, [-1, 1])
        const dPre = tf.mul(tf.mul(dyc, tf.div(z, std)), tf.sub(1, tf.square(mu))) as tf.Tensor2D
        const dLogStd = tf.mul(biasGrad(tf.mul(dyc, tf.sub(tf.square(z), 1)) as tf.Tensor2D), inRange)
        return [...mlpBackward(vars.slice(0, -1), saved.slice(0, L) as tf.Tensor2D[], dPre), dLogStd]
      }
      return { value: lp, gradFunc }
    })
    return f(...this.variables) as tf.Tensor2D
  }

  act(obs: Float32Array, n: number, rng: Rng, deterministic: boolean): Float32Array {
    const { obsDim, actDim } = this.spec
    const [mu, std] = readBackAll(
      tf.tidy(() => [this.mean(tf.tensor2d(obs, [n, obsDim])), tf.exp(this.logStd())]),
      { dispose: true }
    ) as Float32Array[]
    if (deterministic) return mu
    const out = new Float32Array(n * actDim)
    for (let i = 0; i < out.length; i++) out[i] = mu[i] + std[i % actDim] * rng.normal()
    return out
  }

  clone(trainable: boolean): GaussianMlpPolicy {
    return new GaussianMlpPolicy(this.spec, null, cloneVariables(this.variables, trainable), trainable)
  }

  dispose(): void {
    for (const v of this.variables) v.dispose()
  }
}
