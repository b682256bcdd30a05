// One experiment, start to end, without any storage: curate the data, build θ, obtain π_ref
// (the initial policy, or behaviour cloning on all data), score π_ref once over the dataset
// (through a cache keyed by reference model and data hash), and train. The job layer
// (src/main/jobs) wires this to the project store; tests call it directly.
import { createHash } from 'node:crypto'
import { isImportanceWeighted, trainsOnAllData, type RunConfig } from '../../shared/config.ts'
import { curate, holdoutIndices, recount, type CurationResult } from '../../shared/curation.ts'
import { DatasetError, datasetHash, totalSteps, type TraceDataset } from '../common/trace.ts'
import { createPolicy } from './policies/index.ts'
import type { NamedTensor } from '../common/tensors.ts'
import { readWeights, writeWeights, type Policy } from './policies/policy.ts'
import { Rng } from './rng.ts'
import { scoreSteps } from './train/scoring.ts'
import { train, type TrainHooks, type TrainResult, type TrainState } from './train/trainer.ts'

export interface RefCache {
  get(refKey: string, dataHash: string): Float32Array | null
  put(refKey: string, dataHash: string, logp: Float32Array): void
}

/** Everything a behaviour-cloned π_ref (reference.kind "bc") depends on: the data, the
 *  reference's own settings, the policy's shape and initialisation (the seed), the traces held
 *  out, and the optimiser and loss settings it inherits from the run. Two runs with equal
 *  settings (on one backend) train the same π_ref, so it is trained once and cached. */
export interface BcReferenceSettings {
  dataHash: string
  steps: number
  lr: number
  batch_size: number
  policy: RunConfig['policy']
  seed: number
  holdout: number
  optim: Pick<RunConfig['optim'], 'kind' | 'betas' | 'eps' | 'weight_decay' | 'clip_grad_norm'>
  loss_norm: RunConfig['train']['loss_norm']
  step_sample: RunConfig['train']['step_sample']
}

export function bcReferenceSettings(config: RunConfig, dataHash: string): BcReferenceSettings | null {
  const r = config.reference
  if (r.kind !== 'bc') return null
  const { kind, betas, eps, weight_decay, clip_grad_norm } = config.optim
  return {
    dataHash,
    steps: r.steps,
    lr: r.lr,
    batch_size: r.batch_size,
    policy: config.policy,
    seed: config.seed,
    holdout: config.train.holdout,
    optim: { kind, betas, eps, weight_decay, clip_grad_norm },
    loss_norm: config.train.loss_norm,
    step_sample: config.train.step_sample
  }
}

/** Trained BC references by their settings (the job layer keeps them in the project). */
export interface BcReferenceCache {
  get(settings: BcReferenceSettings): NamedTensor[] | null
  put(settings: BcReferenceSettings, weights: NamedTensor[], trainMs: number): void
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
  const fits = { categorical: 'discrete', 'gaussian-mlp': 'continuous', transformer: 'sequence', llm: 'sequence' }[config.policy.kind]
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
  const c = curate(ds.scores, trainsOnAllData(config.method) ? { mode: 'all' } : config.curation)
  if (config.train.holdout > 0) {
    // held-out traces never enter training, whatever their score
    for (const i of holdoutIndices(c.multiplicity.length, config.train.holdout, datasetHash(ds))) c.multiplicity[i] = 0
    recount(c)
  }
  if (c.kept === 0) {
    throw new DatasetError(
      `curation ${JSON.stringify(config.curation)} keeps no trace of dataset "${ds.name}" (scores ${Math.min(...ds.scores)} … ${Math.max(...ds.scores)}); lower the threshold or widen the cutoffs`
    )
  }
  return c
}

/** A stable key for a reference policy: its architecture and exact parameter bytes. */
function referenceKey(p: Policy): string {
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
  /** trained BC references (reference.kind "bc"): one found here is not trained again */
  bcCache?: BcReferenceCache
  /** start θ (and so π_ref) from a copy of this policy — a reference model trained elsewhere
   *  (the sequence suite's reference, a checkpoint) — instead of config.reference */
  init?: Policy
  /** continue a run: θ = `init` (the checkpoint's), π_ref's log-probs from the cache by key */
  resume?: { state: TrainState; refKey: string | null }
  /** π_ref's log-probs computed outside the engine's policies (reference.kind "model": a language
   *  model's, scored by the job layer), with the cache key they are stored under */
  reference?: { refKey: string; refLogProbs: Float32Array }
}

/** π_ref for a run: `policy` as given (a checkpoint, or the fresh initialisation), or — for
 *  reference.kind "bc" — `policy` after behaviour cloning on ALL data; θ (and θ_q) then start
 *  from it, since q, π_ref and π_θ are all equal at step 0. Its log-probs over every step of the
 *  dataset are computed once and cached by (reference key, data hash). `rng` must be the run's
 *  generator after the policy's initialisation fork, so that a run and a stand-alone scoring
 *  job build the same π_ref. */
async function establishReference(
  config: RunConfig,
  ds: TraceDataset,
  policy: Policy,
  rng: Rng,
  hooks: ExperimentHooks,
  refCache: RefCache | undefined,
  given: boolean,
  bcCache?: BcReferenceCache
): Promise<{ refKey: string; refLogProbs: Float32Array } | 'cancelled'> {
  if (!given && config.reference.kind === 'model')
    throw new Error(`reference "${config.reference.model}" is a language model: its log-probs come from the job layer (ExperimentOptions.reference)`)
  if (!given && config.reference.kind === 'bc') {
    const r = config.reference
    const bcConfig: RunConfig = {
      ...config,
      method: 'bc',
      optim: { ...config.optim, lr: r.lr, warmup_steps: 0, schedule: 'constant' },
      train: { ...config.train, steps: r.steps, batch_size: r.batch_size, log_every: r.steps, snapshot_every: r.steps, eval_every: r.steps, checkpoint_every: null }
    }
    const bcRng = rng.fork(2) // forked even when the reference comes from the cache: the run's later streams stay the same
    const settings = bcReferenceSettings(config, datasetHash(ds))!
    const cached = bcCache?.get(settings)
    if (cached) writeWeights(policy, cached)
    else {
      const all = new Uint8Array(ds.offsets.length - 1).fill(1)
      for (const i of holdoutIndices(all.length, config.train.holdout, datasetHash(ds))) all[i] = 0
      const t0 = Date.now()
      const res = await train(
        { config: bcConfig, dataset: ds, policy, multiplicity: all, refLogProbs: null, rng: bcRng },
        { signal: hooks.signal, onProgress: (d, t) => hooks.onPhase?.('reference', d, t) }
      )
      if (res.status === 'cancelled') return 'cancelled'
      bcCache?.put(settings, readWeights(policy), Date.now() - t0)
    }
  }
  const refKey = referenceKey(policy)
  let refLogProbs = refCache?.get(refKey, datasetHash(ds)) ?? null
  if (!refLogProbs) {
    refLogProbs = scoreSteps(policy, ds, undefined, (d, t) => hooks.onPhase?.('scoring', d, t))
    refCache?.put(refKey, datasetHash(ds), refLogProbs)
  }
  return { refKey, refLogProbs }
}

/** Reference scoring as a job of its own ("score with reference model" in the app): build π_ref
 *  exactly as a run with this config would, score the dataset, and cache it, so that the run
 *  later finds its reference log-probs ready. */
export async function scoreReference(
  config: RunConfig,
  ds: TraceDataset,
  hooks: ExperimentHooks,
  refCache: RefCache,
  init?: Policy,
  bcCache?: BcReferenceCache
): Promise<{ refKey: string; steps: number } | 'cancelled'> {
  const rng = new Rng(config.seed)
  const initRng = rng.fork(1)
  const policy = init ? init.clone(false) : createPolicy(config.policy, ds, initRng)
  try {
    const ref = await establishReference(config, ds, policy, rng, hooks, refCache, Boolean(init), bcCache)
    return ref === 'cancelled' ? ref : { refKey: ref.refKey, steps: ref.refLogProbs.length }
  } finally {
    policy.dispose()
  }
}

export async function runExperiment(config: RunConfig, ds: TraceDataset, hooks: ExperimentHooks = {}, opts: ExperimentOptions = {}): Promise<ExperimentResult> {
  const { refCache, bcCache, init, resume, reference } = opts
  if (resume && !init) throw new Error("resuming needs the checkpoint's policy")
  const curation = curateForRun(config, ds)
  const dataHash = datasetHash(ds)
  // the run's generator; its forks: 1 θ's initialisation, 2 the BC reference, 3 the trainer
  // (train/batch-schedule.ts trainerRng must follow the same order)
  const rng = new Rng(config.seed)
  // θ's own initialisation draws from rng.fork(1) whether or not it is used, so a run started
  // from `init` keeps the same generator for everything after (a language model's policy is
  // always given as `init`: loading it is the job layer's)
  const initRng = rng.fork(1)
  const policy = init ? init.clone(true) : createPolicy(config.policy, ds, initRng)
  let refKey: string | null = null
  try {
    let refLogProbs: Float32Array | null = null
    if (resume) {
      refKey = resume.refKey
      if (refKey) {
        refLogProbs = refCache?.get(refKey, dataHash) ?? null
        if (!refLogProbs) throw new Error(`the reference log-probs of this run (key ${refKey}) are no longer in the project; start a new run instead of resuming`)
      }
    } else if (reference && !trainsOnAllData(config.method)) {
      if (reference.refLogProbs.length !== totalSteps(ds)) throw new Error(`reference log-probs: ${reference.refLogProbs.length} values for the dataset's ${totalSteps(ds)} steps`)
      ;({ refKey, refLogProbs } = reference)
    } else if (!trainsOnAllData(config.method)) {
      const ref = await establishReference(config, ds, policy, rng, hooks, refCache, Boolean(init), bcCache)
      if (ref === 'cancelled') return { status: 'cancelled', steps: 0, final: {}, policy, curation, dataHash, refKey }
      ;({ refKey, refLogProbs } = ref)
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
