// Checkpoints in the project store: θ, and for a resumable checkpoint also θ_q, Adam's moments
// and the sampler's RNG state, as named tensors plus a JSON spec.
import type { NamedTensor } from '../common/tensors.ts'
import type { ProjectStore } from '../store/types.ts'
import { policyFromSpec } from '../engine/policies/index.ts'
import { readWeights, writeWeights, type Policy, type PolicySpec } from '../engine/policies/policy.ts'
import { Rng } from '../engine/rng.ts'
import type { TrainState } from '../engine/train/trainer.ts'

export interface CheckpointSpec {
  policy: PolicySpec
  /** key of the π_ref log-probs in the project's cache */
  refKey: string | null
  /** present when the checkpoint can resume training */
  train?: { step: number; rngState: number; adamT: number; hasQ: boolean; /** Policy.randomState (absent in older checkpoints) */ policyRandom?: Record<string, number> }
}

export function saveCheckpoint(store: ProjectStore, runId: number, policy: Policy, state: TrainState | null, refKey: string | null, metrics: Record<string, number>): number {
  const tensors: NamedTensor[] = readWeights(policy).map((t, i) => ({ ...t, name: `policy/${i}` }))
  const spec: CheckpointSpec = { policy: policy.spec, refKey }
  if (state) {
    const shapes = policy.variables.map((v) => v.shape.slice())
    const add = (prefix: string, arrays: Float32Array[]): void => arrays.forEach((data, i) => tensors.push({ name: `${prefix}/${i}`, shape: shapes[i], data }))
    add('adam_m', state.adam.m)
    add('adam_v', state.adam.v)
    if (state.q) add('q', state.q)
    const policyRandom = policy.randomState?.()
    spec.train = { step: state.step, rngState: state.rngState, adamT: state.adam.t, hasQ: state.q !== null, ...(policyRandom && Object.keys(policyRandom).length ? { policyRandom } : {}) }
  }
  return store.putCheckpoint(runId, state?.step ?? 0, tensors, spec, metrics)
}

export interface LoadedCheckpoint {
  policy: Policy
  spec: CheckpointSpec
  state: TrainState | null
  step: number
}

/** `build`: the policy of a spec that needs more than the spec (a language model's, built on the
 *  loaded model: jobs/llm-policy.ts); default policyFromSpec */
export function loadCheckpoint(store: ProjectStore, checkpointId: number, build?: (spec: PolicySpec) => Policy): LoadedCheckpoint {
  const { row, tensors, spec: raw } = store.getCheckpoint(checkpointId)
  const spec = raw as CheckpointSpec
  if (!spec?.policy?.kind) throw new Error(`checkpoint ${checkpointId} has no policy spec; it was not written by this workbench`)
  const policy = build ? build(spec.policy) : policyFromSpec(spec.policy, new Rng(0))
  const group = (prefix: string): Float32Array[] => tensors.filter((t) => t.name.startsWith(`${prefix}/`)).map((t) => t.data)
  writeWeights(
    policy,
    tensors.filter((t) => t.name.startsWith('policy/'))
  )
  if (spec.train?.policyRandom) policy.setRandomState?.(spec.train.policyRandom)
  const state: TrainState | null = spec.train
    ? {
        step: spec.train.step,
        rngState: spec.train.rngState,
        adam: { t: spec.train.adamT, m: group('adam_m'), v: group('adam_v') },
        q: spec.train.hasQ ? group('q') : null
      }
    : null
  return { policy, spec, state, step: row.step }
}

/** The run's checkpoint at `step`, or its last one. */
export function findCheckpoint(store: ProjectStore, runId: number, step?: number): number {
  const list = store.listCheckpoints(runId)
  if (list.length === 0) throw new Error(`run ${runId} has no checkpoint; runs save one every train.checkpoint_every steps and at the end`)
  if (step === undefined) return list.reduce((a, b) => (b.step > a.step ? b : a)).id
  const c = list.find((x) => x.step === step)
  if (!c) throw new Error(`run ${runId} has no checkpoint at step ${step}; saved steps: ${list.map((x) => x.step).join(', ')}`)
  return c.id
}
