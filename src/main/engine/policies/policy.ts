// One interface for every policy π(a_t | s_t): the bandit's categorical policy, the Gaussian
// MLP of the control suite and the causal transformer of the sequence suite. The engine only
// ever asks for per-step log-probabilities of a padded batch of traces.
import * as tf from '@tensorflow/tfjs'
import type { NamedTensor } from '../../common/tensors.ts'
import type { Rng } from '../rng.ts'

/** A padded batch of B traces of up to T steps. Padded steps have mask 0. */
export interface Batch {
  B: number
  T: number
  /** [B, T, obsDim] float32 (absent when obsDim is 0 or for sequences) */
  obs: tf.Tensor3D | null
  /** continuous: [B, T, actDim] float32; discrete/sequence: [B, T] int32 */
  actions: tf.Tensor
  /** [B, T] float32, 1 where the step counts */
  mask: tf.Tensor2D
  /** sequences only: [B, T] float32, 1 for real (prompt or completion) tokens, 0 for padding;
   *  the transformer attends to real tokens and scores completion tokens (mask) */
  valid?: tf.Tensor2D
  /** dataset trace index of each row */
  traceIndex: Int32Array
}

/** JSON description of a policy's architecture; enough to rebuild it (checkpoints, export). */
export interface PolicySpec {
  kind: string
  obsDim: number
  actDim: number
  [key: string]: unknown
}

export interface Policy {
  readonly spec: PolicySpec
  /** trainable (or, for q and π_ref copies, frozen) parameters in a fixed order */
  readonly variables: tf.Variable[]
  /** log π(a_t | s_t) for every step: [B, T]; values at padded steps are finite but meaningless */
  logProbs(batch: Batch): tf.Tensor2D
  /** one action per row of observations [N, obsDim] (vectorised environments, the bandit);
   *  returns N actions (discrete: indices; continuous: N × actDim). deterministic = mode/mean */
  act(obs: Float32Array, n: number, rng: Rng, deterministic: boolean): Float32Array | Int32Array
  /** a copy with its own variables (trainable or frozen) */
  clone(trainable: boolean): Policy
  dispose(): void
  /** counters of randomness a policy draws during training (LoRA dropout's call count), kept in
   *  resumable checkpoints so a resumed run draws what an unbroken one would */
  randomState?(): Record<string, number>
  setRandomState?(state: Record<string, number>): void
}

/** Plain copies of a policy's parameters (checkpoints, parity tests). */
export function readWeights(p: Policy): NamedTensor[] {
  return p.variables.map((v) => ({ name: v.name, shape: v.shape.slice(), data: v.dataSync() as Float32Array }))
}

export function writeWeights(p: Policy, tensors: NamedTensor[]): void {
  if (tensors.length !== p.variables.length) {
    throw new Error(`checkpoint has ${tensors.length} tensors, the policy has ${p.variables.length}; is it the same architecture?`)
  }
  p.variables.forEach((v, i) => {
    const t = tensors[i]
    if (t.shape.join('x') !== v.shape.join('x')) {
      throw new Error(`checkpoint tensor ${t.name} has shape [${t.shape}], the policy expects [${v.shape}]`)
    }
    v.assign(tf.tensor(t.data, v.shape, 'float32'))
  })
}
