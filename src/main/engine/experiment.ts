// One experiment, start to end, without any storage: curate the data, build θ, obtain π_ref
// (the initial policy, or behaviour cloning on all data), score π_ref once over the dataset
// (through a cache keyed by reference model and data hash), and train. The job layer
// (src/main/jobs) wires this to the project store; tests call it directly.
import { createHash } from 'node:crypto'
import { isImportanceWeighted, type RunConfig } from '../../shared/config.ts'
import { curate, type CurationResult } from '../../shared/curation.ts'
import { DatasetError, datasetHash, type TraceDataset } from './data/trace.ts'
import { createPolicy } from './policies/index.ts'
import type { Policy } from './policies/policy.ts'
import { Rng } from './rng.ts'
import { scoreSteps, train, type TrainHooks, type TrainResult, type TrainState } from './train/trainer.ts'

export interface RefCache {
  get(refKey: string, dataHash: string): Float32Array | null
  put(refKey: string, dataHash: string, logp: Float32Array): void
}

export interface ExperimentHooks extends TrainHooks {
  /** phases: "reference" (BC fit of π_ref), "scoring" (reference log-probs), "train" */
  onPhase?(phase: string, done: number, total: number): void
  /** once θ exists and π_ref is fixed: the key of π_ref's cached log-probs and θ itself (read by checkpoints) */
  onReference?(refKey: string | null, policy: Policy): void
}

export interface ExperimentResult extends TrainResult {
  policy: Policy
  curation: CurationResult
  dataHash: string
  refKey: string | null
}

/** Check a run's inputs before anything is written: the policy must fit the data's actions,
 *  and the curation (BC trains on all data) must keep at least one trace. */
export function curateForRun(config: RunConfig, ds: TraceDataset): CurationResult {
  const fits = { categorical: 'discrete', 'gaussian-mlp': 'continuous', transformer: 'sequence' }[config.policy.kind]
  if (fits !== ds.kind) {
    const use = { discrete: 'categorical', continuous: 'gaussian-mlp', sequence: 'transformer' }[ds.kind]
    throw new DatasetError(`policy.kind "${config.policy.kind}" does not fit dataset "${ds.name}" (${ds.kind} actions, dimension ${ds.actDim}); use "${use}"`)
  }
  if (config.train.step_sample !== null) {
    if (ds.kind === 'sequence') throw new DatasetError('train.step_sample needs a Markov policy (one observation per step); a token sequence needs its whole prefix: set it to null')
    if (config.train.loss_norm !== 'trace') throw new DatasetError('train.step_sample estimates the per-trace mean: it needs train.loss_norm "trace"')
  }
  const { checkpoint_every: every } = config.train
  const refresh = config.weights.q_refresh
  if (every !== null && refresh !== null && every % refresh !== 0) {
    // a resumed run recomputes the q cache at its first step: exact only on a refresh boundary
    throw new DatasetError(`train.checkpoint_every (${every}) must be a multiple of weights.q_refresh (${refresh}) so that a resumed run continues exactly`)
  }
  const c = curate(ds.scores, config.method === 'bc' ? { mode: 'all' } : config.curation)
  if (c.kept === 0) {
    throw new DatasetError(
      `curation ${JSON.stringify(config.curation)} keeps no trace of dataset "${ds.name}" (scores ${Math.min(...ds.scores)} … ${Math.max(...ds.scores)}); lower the threshold or widen the cutoffs`
    )
  }
  return c
}

/** A stable key for a reference policy: its architecture and exact parameter bytes. */
export function referenceKey(p: Policy): string {
  const h = createHash('sha256')
  h.update(JSON.stringify(p.spec))
  for (const v of p.variables) {
    const d = v.dataSync() as Float32Array
    h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength))
  }
  return h.digest('hex').slice(0, 32)
}

export interface ExperimentOptions {
  refCache?: RefCache
  /** start θ (and so π_ref) from a copy of this policy — a reference model trained elsewhere
   *  (the sequence suite's reference, a checkpoint) — instead of config.reference */
  init?: Policy
  /** continue a run: θ = `init` (the checkpoint's), π_ref's log-probs from the cache by key */
  resume?: { state: TrainState; refKey: string | null }
}

export async function runExperiment(config: RunConfig, ds: TraceDataset, hooks: ExperimentHooks = {}, opts: ExperimentOptions = {}): Promise<ExperimentResult> {
  const { refCache, init, resume } = opts
  if (resume && !init) throw new Error('resuming needs the checkpoint\'s policy')
  const curation = curateForRun(config, ds)
  const dataHash = datasetHash(ds)
  const rng = new Rng(config.seed)
  const fresh = createPolicy(config.policy, ds, rng.fork(1))
  const policy = init ? init.clone(true) : fresh
  if (init) fresh.dispose()
  let refKey: string | null = null
  try {
    let refLogProbs: Float32Array | null = null
    if (resume) {
      refKey = resume.refKey
      if (refKey) {
        refLogProbs = refCache?.get(refKey, dataHash) ?? null
        if (!refLogProbs) throw new Error(`the reference log-probs of this run (key ${refKey}) are no longer in the project; start a new run instead of resuming`)
      }
    } else if (config.method !== 'bc') {
      if (!init && config.reference.kind === 'bc') {
        // π_ref unknown: fit it by behaviour cloning on ALL data, then start θ (and θ_q) from it
        const r = config.reference
        const bcConfig: RunConfig = {
          ...config,
          method: 'bc',
          optim: { ...config.optim, lr: r.lr, warmup_steps: 0, schedule: 'constant' },
          train: { ...config.train, steps: r.steps, batch_size: r.batch_size, log_every: r.steps, snapshot_every: r.steps, eval_every: r.steps }
        }
        const res = await train(
          { config: bcConfig, dataset: ds, policy, multiplicity: curation.multiplicity, refLogProbs: null, rng: rng.fork(2) },
          { signal: hooks.signal, onProgress: (d, t) => hooks.onPhase?.('reference', d, t) }
        )
        if (res.status === 'cancelled') return { ...res, policy, curation, dataHash, refKey }
      }
      // π_ref = θ at step 0 (q, π_ref and π_θ are all equal at the start)
      refKey = referenceKey(policy)
      refLogProbs = refCache?.get(refKey, dataHash) ?? null
      if (!refLogProbs) {
        refLogProbs = scoreSteps(policy, ds, undefined, (d, t) => hooks.onPhase?.('scoring', d, t))
        refCache?.put(refKey, dataHash, refLogProbs)
      }
    }
    if (isImportanceWeighted(config.method) && !refLogProbs) throw new Error('internal: no reference log-probs for an iw method')
    hooks.onReference?.(refKey, policy)
    const res = await train(
      { config, dataset: ds, policy, multiplicity: curation.multiplicity, refLogProbs, rng: rng.fork(3), resume: resume?.state },
      { ...hooks, onProgress: (d, t) => (hooks.onPhase?.('train', d, t), hooks.onProgress?.(d, t)) }
    )
    return { ...res, policy, curation, dataHash, refKey }
  } catch (e) {
    policy.dispose()
    throw e
  }
}
