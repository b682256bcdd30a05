// The run configuration: one schema, used by the CLI (JSON/YAML files), the app's forms,
// the IPC/HTTP contract and the engine. Unknown keys are errors (strict objects) so that a
// misspelt key is reported by name instead of silently ignored.
import { z } from 'zod'
import { PRESET_NAMES, table4Row } from './presets.ts'

/** what a dataset's steps are: discrete actions (with an observation vector or none), continuous
 *  action vectors, or tokens (a_t is token t, the context s_t the prefix before it) */
export type TraceKind = 'discrete' | 'continuous' | 'sequence'

export const METHODS = ['bc', 'sft', 'sft-q', 'iw-sft', 'iw-sft-q', 'iw-sft-step', 'iw-sft-q-step'] as const
export type Method = (typeof METHODS)[number]

export const METHOD_LABELS: Record<Method, string> = {
  bc: 'BC',
  sft: 'SFT',
  'sft-q': 'SFT(Q)',
  'iw-sft': 'iw-SFT',
  'iw-sft-q': 'iw-SFT(Q)',
  'iw-sft-step': 'iw-SFT per-step',
  'iw-sft-q-step': 'iw-SFT(Q) per-step'
}

export const BACKENDS = ['auto', 'native-gpu', 'native-cpu', 'wasm', 'cpu'] as const
export type BackendChoice = (typeof BACKENDS)[number]

/** One row of science.md's table of objectives ("Objectives"). */
export interface MethodSpec {
  /** the traces it trains on: all of D (BC: no curation, a fresh initialisation, no π_ref), the
   *  curated set D+ uniformly, or D_Q+ — D+ sampled by quality-bin multiplicity m(τ) (paper
   *  Algorithm 2) */
  data: 'D' | 'D+' | 'D_Q+'
  /** each trace (or step) weighted by q/π_ref (paper eq. 11) */
  importanceWeighted: boolean
  /** one weight w_t per step instead of one w(τ) per trace */
  perStep: boolean
}

/** The one place a method is described: a new method gets its row here (the type checker then
 *  also asks for its name in METHODS and its label); every check below reads this table. */
export const METHOD_TABLE: Record<Method, MethodSpec> = {
  bc: { data: 'D', importanceWeighted: false, perStep: false },
  sft: { data: 'D+', importanceWeighted: false, perStep: false },
  'sft-q': { data: 'D_Q+', importanceWeighted: false, perStep: false },
  'iw-sft': { data: 'D+', importanceWeighted: true, perStep: false },
  'iw-sft-q': { data: 'D_Q+', importanceWeighted: true, perStep: false },
  'iw-sft-step': { data: 'D+', importanceWeighted: true, perStep: true },
  'iw-sft-q-step': { data: 'D_Q+', importanceWeighted: true, perStep: true }
}

/** Does the method weight traces by q/π_ref? */
export const isImportanceWeighted = (m: Method): boolean => METHOD_TABLE[m].importanceWeighted
/** Does the method sample the curated set by quality-bin multiplicity (D_Q+)? */
export const usesQualityBins = (m: Method): boolean => METHOD_TABLE[m].data === 'D_Q+'
/** Per-step (token-level) weights instead of one weight per trace. */
export const isPerStep = (m: Method): boolean => METHOD_TABLE[m].perStep
/** Does the method train on all of D (BC: curation "all", no reference policy)? */
export const trainsOnAllData = (m: Method): boolean => METHOD_TABLE[m].data === 'D'

const finite = z.number().refine(Number.isFinite, 'must be a finite number')
const range = z.tuple([finite, finite]).refine(([a, b]) => a <= b, 'must be [low, high] with low ≤ high')

export const CurationSchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('all') }),
  /** D+ = {τ : S(τ) > threshold} */
  z.strictObject({ mode: z.literal('threshold'), threshold: finite }),
  /** keep traces at or above the (100−k)th percentile of scores ("BC k%") */
  z.strictObject({ mode: z.literal('top_k'), percent: z.number().gt(0).max(100) }),
  /** paper Algorithm 2: multiplicity m(τ) = #{j : S(τ) ≥ percentile(S, c_j)} */
  z.strictObject({
    mode: z.literal('quality_bins'),
    cutoffs: z
      .array(z.number().min(0).max(100))
      .min(1)
      .refine((c) => c.every((v, i) => i === 0 || v > c[i - 1]), 'cutoffs must be strictly increasing percentiles')
  })
])
export type Curation = z.infer<typeof CurationSchema>

export const QSchema = z.discriminatedUnion('kind', [
  /** q = π_θ with stop-gradient (authors' LLM code): no extra forward pass */
  z.strictObject({ kind: z.literal('current') }),
  /** θ_q ← β θ_q + (1−β) θ every step, before the loss (authors' control code) */
  z.strictObject({ kind: z.literal('ema'), beta: z.number().min(0).max(1) }),
  /** θ_q ← θ every `every` steps (paper Algorithm 1) */
  z.strictObject({ kind: z.literal('periodic'), every: z.number().int().min(1) })
])

export const PerStepTransformSchema = z
  .union([
    z.strictObject({ clip_rho: range }),
    /** clip the ratio exp(ρ_t) to [α_min, α_max], i.e. ρ_t to [log α_min, log α_max] */
    z.strictObject({ clip_ratio: range.refine(([a]) => a > 0, 'ratio bounds must be > 0') })
  ])
  .nullable()

export const WeightSettingsSchema = z.strictObject({
  /** log w = k · Σ_t g(ρ_t), k = temp/|τ| ("mean") or temp ("sum") — paper eq. 11 */
  temp: z.number().gt(0),
  aggregate: z.enum(['mean', 'sum']),
  per_step: PerStepTransformSchema,
  /** clamp on w itself (not on log w) */
  clamp: range.refine(([a]) => a >= 0, 'weight clamp must be ≥ 0'),
  /** w_i ← w_i · B / Σ_batch w */
  normalize: z.boolean(),
  /** per-step variant: w_t = clamp(exp(ρ_t), lo, hi) */
  step_clip: range.refine(([a]) => a >= 0, 'step clip must be ≥ 0'),
  q: QSchema,
  /** null: log q is computed for every trace of every batch (exact). K: log q of the whole
   *  curated set is recomputed every K steps and read from that cache in between — exact for a
   *  periodic q with every = K, a lag of < K steps for EMA or current q */
  q_refresh: z.number().int().min(1).nullable().default(null)
})
export type WeightSettings = z.infer<typeof WeightSettingsSchema>

/** LoRA on a language model's linears (issue 14; PEFT's LoraConfig): y = x·W + (alpha/rank)·x·A·B */
export const LoraSchema = z.strictObject({
  rank: z.number().int().min(1).max(1024),
  alpha: z.number().gt(0),
  dropout: z.number().min(0).lt(1),
  /** q, k, v, o (attention), gate, up, down (MLP) */
  targets: z.array(z.enum(['q', 'k', 'v', 'o', 'gate', 'up', 'down'])).min(1),
  /** scale alpha/√rank (PEFT use_rslora) */
  rslora: z.boolean().default(false)
})
export type LoraConfig = z.infer<typeof LoraSchema>
export const LORA_DEFAULTS: LoraConfig = { rank: 8, alpha: 16, dropout: 0.05, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'], rslora: false }

export const PolicySchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('categorical'), hidden: z.array(z.number().int().min(1)).max(8) }),
  z.strictObject({
    kind: z.literal('gaussian-mlp'),
    hidden: z.array(z.number().int().min(1)).min(1).max(8),
    log_std_min: finite,
    log_std_max: finite
  }),
  /** causal transformer over tokens (sequence datasets) */
  z
    .strictObject({
      kind: z.literal('transformer'),
      d_model: z.number().int().min(4).max(4096),
      n_heads: z.number().int().min(1).max(64),
      n_layers: z.number().int().min(1).max(48),
      d_ff: z.number().int().min(4).max(16384),
      max_len: z.number().int().min(2).max(8192),
      tied: z.boolean(),
      /** token id of the beginning-of-sequence context (the tokenizer's bos) */
      bos: z.number().int().min(0)
    })
    .refine((p) => p.d_model % p.n_heads === 0, 'd_model must be a multiple of n_heads'),
  /** a language model of the project (name or id; `iwsft models list`), fine-tuned with LoRA
   *  adapters (the base frozen) or in full (every weight trained); the dataset must be tokenised
   *  as that model reads it (`datasets import --tokenizer-model`) */
  z.strictObject({
    kind: z.literal('llm'),
    model: z.string().trim().min(1).max(200),
    finetune: z.enum(['lora', 'full']).default('lora'),
    lora: LoraSchema.default(LORA_DEFAULTS)
  })
])
export type PolicyConfig = z.infer<typeof PolicySchema>

export const ReferenceSchema = z.discriminatedUnion('kind', [
  /** π_ref = the freshly initialised policy (uniform for a context-free categorical) */
  z.strictObject({ kind: z.literal('init') }),
  /** fit π_ref by behaviour cloning on all data, then start θ and θ_q from it */
  z.strictObject({
    kind: z.literal('bc'),
    steps: z.number().int().min(1),
    lr: z.number().gt(0),
    batch_size: z.number().int().min(1)
  }),
  /** π_ref = a saved checkpoint of an earlier run in the project (its last one, or at `step`) */
  z.strictObject({ kind: z.literal('checkpoint'), run: z.number().int().min(1), step: z.number().int().min(0).optional() }),
  /** π_ref's log-probs from a language model of the project (name or id; `iwsft models list`),
   *  scored once over the dataset and cached; the dataset must be tokenised as that model reads
   *  it (`datasets import --tokenizer-model`). θ is still the config's policy (fine-tuning the
   *  model itself is a later step) */
  z.strictObject({ kind: z.literal('model'), model: z.string().trim().min(1).max(200) })
])

export const OptimSchema = z.strictObject({
  kind: z.enum(['adam', 'adamw']),
  lr: z.number().gt(0).max(10),
  betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]),
  eps: z.number().gt(0),
  weight_decay: z.number().min(0),
  warmup_steps: z.number().int().min(0),
  schedule: z.enum(['cosine', 'constant']),
  clip_grad_norm: z.number().gt(0).nullable()
})

export const TrainSchema = z.strictObject({
  steps: z.number().int().min(1),
  batch_size: z.number().int().min(1),
  /** "trace": per-trace mean then batch mean (control code); "token": Σ over masked steps / count (LLM code) */
  loss_norm: z.enum(['trace', 'token']),
  log_every: z.number().int().min(1),
  snapshot_every: z.number().int().min(1),
  eval_every: z.number().int().min(1),
  /** fraction of traces held out of training and scored offline at each evaluation (held-out
   *  log-likelihood and action error) — for data without an environment; the same traces for
   *  every run on a dataset (chosen from its content hash) */
  holdout: z.number().min(0).max(0.5).default(0),
  /** save a resumable checkpoint (θ, θ_q, optimizer and sampler state) every N steps; null: only at the end */
  checkpoint_every: z.number().int().min(1).nullable().default(null),
  /** null: the gradient uses every step of each sampled trace. S: S steps drawn uniformly (with
   *  replacement) from each trace's masked steps — an unbiased estimate of the per-trace mean
   *  (loss_norm "trace"), for long control trajectories; weights still use whole trajectories */
  step_sample: z.number().int().min(1).nullable().default(null),
  /** gradient accumulation: at most this many traces per forward/backward pass, their gradients
   *  summed into the batch's (the same update as one pass over batch_size); null = one pass */
  micro_batch: z.number().int().min(1).nullable().default(null)
})

export const RunConfigSchema = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  /** whose defaults fill the unset keys (default: guessed from the dataset name) */
  domain: z.enum(['bandit', 'control', 'sequence']).optional(),
  /** a built-in dataset name ("bandit") or a dataset id/name in the project */
  dataset: z.string().min(1),
  /** parameters of a built-in dataset generator (e.g. bandit pulls) */
  dataset_options: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])).optional(),
  curation: CurationSchema,
  method: z.enum(METHODS),
  policy: PolicySchema,
  reference: ReferenceSchema,
  weights: WeightSettingsSchema,
  optim: OptimSchema,
  train: TrainSchema,
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1),
  backend: z.enum(BACKENDS),
  group: z.string().max(200).optional(),
  /** the paper's Table 4 row the settings started from (presets.ts); the config's own keys win */
  preset: z.enum(PRESET_NAMES as [string, ...string[]]).optional()
})
export type RunConfig = z.infer<typeof RunConfigSchema>

/** A partial config as users write it: every section optional, merged over domain defaults. */
export type RunConfigInput = Partial<{ [K in keyof RunConfig]: RunConfig[K] extends object ? Partial<RunConfig[K]> : RunConfig[K] }>

export const DOMAINS = ['bandit', 'control', 'sequence'] as const
export type Domain = (typeof DOMAINS)[number]

// The authors' LLM code's weights (temp 1 on the mean log ratio, w clamped to [0, 16], q = π_θ),
// shared by the bandit and the sequence suite.
const LLM_WEIGHTS: WeightSettings = {
  temp: 1,
  aggregate: 'mean',
  per_step: null,
  clamp: [0, 16],
  normalize: false,
  step_clip: [0.2, 1.8],
  q: { kind: 'current' },
  q_refresh: null
}

const ADAM: RunConfig['optim'] = {
  kind: 'adam',
  lr: 1e-3,
  betas: [0.9, 0.999],
  eps: 1e-8,
  weight_decay: 0,
  warmup_steps: 0,
  schedule: 'cosine',
  clip_grad_norm: null
}

const TRAIN: RunConfig['train'] = {
  steps: 1000,
  batch_size: 256,
  loss_norm: 'trace',
  log_every: 10,
  snapshot_every: 250,
  eval_every: 50,
  step_sample: null,
  micro_batch: null,
  checkpoint_every: null,
  holdout: 0
}

/** The paper's and the authors' code's values per domain (science.md, "Reference hyper-parameters"). */
export function defaultConfig(domain: Domain): RunConfig {
  const common = { seed: 0, backend: 'auto' as const, reference: { kind: 'init' as const } }
  if (domain === 'bandit') {
    return {
      ...common,
      dataset: 'bandit',
      curation: { mode: 'threshold', threshold: 0.5 },
      method: 'iw-sft',
      policy: { kind: 'categorical', hidden: [] },
      weights: LLM_WEIGHTS,
      optim: { ...ADAM, lr: 0.05 },
      train: { ...TRAIN, steps: 1500 }
    }
  }
  if (domain === 'control') {
    return {
      ...common,
      dataset: 'control',
      curation: { mode: 'quality_bins', cutoffs: [90, 95, 98] },
      method: 'iw-sft-q',
      policy: { kind: 'gaussian-mlp', hidden: [256, 256, 256], log_std_min: -5, log_std_max: 2 },
      reference: { kind: 'bc', steps: 10_000, lr: 1e-3, batch_size: 128 },
      // authors' control code: temp 10, w clamped to [0, 1000], batch-normalised, EMA q (β 0.9)
      weights: { ...LLM_WEIGHTS, temp: 10, clamp: [0, 1000], normalize: true, q: { kind: 'ema', beta: 0.9 } },
      optim: { ...ADAM, lr: 4e-5, warmup_steps: 300 },
      train: { ...TRAIN, steps: 2000, eval_every: 500, checkpoint_every: 500 }
    }
  }
  return {
    ...common,
    dataset: 'sequence',
    curation: { mode: 'threshold', threshold: 0.5 },
    method: 'iw-sft',
    policy: { kind: 'transformer', d_model: 64, n_heads: 4, n_layers: 2, d_ff: 256, max_len: 128, tied: true, bos: 1 },
    weights: LLM_WEIGHTS,
    // authors' LLM code: AdamW lr 1e-5, betas (0.9, 0.95), weight decay 1e-4, batch 8, token-level loss
    optim: { ...ADAM, kind: 'adamw', lr: 1e-5, betas: [0.9, 0.95], weight_decay: 1e-4, clip_grad_norm: 1 },
    train: { ...TRAIN, batch_size: 8, loss_norm: 'token', snapshot_every: 100, eval_every: 100 }
  }
}

/** Which domain's defaults fit a dataset. A stored dataset by the kind of its actions (discrete
 *  choices → bandit, continuous actions → control, token sequences → sequence); a built-in that
 *  may not be stored yet by its name ("bandit…", "sequence…", else a control task such as
 *  "hopper-replay"). The app's forms, the services, the jobs and `iwsft run` all ask this. */
export function domainOf(dataset: { kind: TraceKind } | string): Domain {
  if (typeof dataset !== 'string') return dataset.kind === 'continuous' ? 'control' : dataset.kind === 'sequence' ? 'sequence' : 'bandit'
  if (dataset.startsWith('bandit')) return 'bandit'
  if (dataset.startsWith('sequence')) return 'sequence'
  return 'control'
}

/** `config` with a Table 4 row (presets.ts) applied and its name recorded in `preset`: the row's
 *  fine-tuning lr, warm-up and steps, EMA q with its α, temperature on the mean log ratio, batch
 *  normalisation and quality-bin cutoffs. Everything else (clamp, policy, batch, reference)
 *  stays as it was. */
export function applyPreset(config: RunConfig, name: string): RunConfig {
  const row = table4Row(name)
  if (!row) throw new Error(`unknown preset "${name}"; presets: ${PRESET_NAMES.join(', ')}`)
  return {
    ...config,
    preset: name,
    curation: { mode: 'quality_bins', cutoffs: [...row.cutoffs] },
    weights: { ...config.weights, temp: row.temp, aggregate: 'mean', normalize: row.normalize, q: { kind: 'ema', beta: row.emaBeta } },
    optim: { ...config.optim, lr: row.lr, warmup_steps: row.warmupSteps, schedule: 'cosine' },
    train: { ...config.train, steps: row.steps }
  }
}

/** One offending field of a config or of a request: its key path ("weights.temp") and what is wrong. */
export interface FieldIssue {
  path: string
  message: string
}

/** A config that cannot be used. `issues` names every offending field (path '' for a problem
 *  with the whole file or object); the message lists them for a terminal. */
export class ConfigError extends Error {
  readonly issues: FieldIssue[]
  constructor(
    message: string,
    readonly source?: string,
    issues?: FieldIssue[]
  ) {
    super(message)
    this.name = 'ConfigError'
    this.issues = issues ?? [{ path: '', message }]
  }
}

/** Merge a user's partial config over the defaults of its domain and validate it.
 *  Errors name the key path (e.g. `weights.tmep: unknown key`) and the source file. */
export function resolveConfig(input: unknown, source?: string): RunConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError(`${source ?? 'config'}: expected an object of settings (e.g. {"method": "iw-sft"})`, source)
  }
  const raw = input as Record<string, unknown>
  const dataset = typeof raw.dataset === 'string' ? raw.dataset : 'bandit'
  const domain = typeof raw.domain === 'string' && (DOMAINS as readonly string[]).includes(raw.domain) ? (raw.domain as Domain) : domainOf(dataset)
  let defaults = defaultConfig(domain)
  if (raw.preset !== undefined) {
    if (typeof raw.preset !== 'string' || !PRESET_NAMES.includes(raw.preset)) {
      const issue = { path: 'preset', message: `must be one of ${PRESET_NAMES.join(', ')} (the paper's Table 4 rows)` }
      throw new ConfigError(`${source ?? 'config'}: invalid settings\n  preset: ${issue.message}`, source, [issue])
    }
    if (domain !== 'control') {
      const issue = { path: 'preset', message: `Table 4 presets are control settings; this is a ${domain} config (dataset "${dataset}")` }
      throw new ConfigError(`${source ?? 'config'}: invalid settings\n  preset: ${issue.message}`, source, [issue])
    }
    defaults = applyPreset(defaults, raw.preset)
  }
  const base = defaults as unknown as Record<string, unknown>
  const merged: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(raw)) {
    const b = base[k]
    // Sections merge one level deep, except discriminated unions, which replace whole when
    // their discriminator changes (a new curation mode brings its own keys).
    const isUnion = k === 'curation' || k === 'policy' || k === 'reference'
    if (b && typeof b === 'object' && !Array.isArray(b) && v && typeof v === 'object' && !Array.isArray(v)) {
      const bv = b as Record<string, unknown>
      const vv = v as Record<string, unknown>
      const disc = 'mode' in bv ? 'mode' : 'kind'
      merged[k] = isUnion && vv[disc] !== undefined && vv[disc] !== bv[disc] ? vv : mergeSection(bv, vv)
    } else {
      merged[k] = v
    }
  }
  const parsed = RunConfigSchema.safeParse(merged)
  if (!parsed.success) {
    const issues: FieldIssue[] = parsed.error.issues.map((i) =>
      i.code === 'unrecognized_keys'
        ? { path: [...i.path, ...i.keys].join('.'), message: 'unknown key (check the spelling; see the documented keys in README.md)' }
        : { path: i.path.join('.') || '(top level)', message: i.message }
    )
    throw new ConfigError(`${source ?? 'config'}: invalid settings\n  ${issues.map((i) => `${i.path}: ${i.message}`).join('\n  ')}`, source, issues)
  }
  return parsed.data
}

function mergeSection(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) {
    // q is itself a union: replace it whole when its kind changes
    if (k === 'q' && v && typeof v === 'object' && (v as { kind?: unknown }).kind !== (base.q as { kind?: unknown })?.kind) {
      out[k] = v
    } else if (base[k] && typeof base[k] === 'object' && !Array.isArray(base[k]) && v && typeof v === 'object' && !Array.isArray(v)) {
      out[k] = { ...(base[k] as object), ...(v as object) }
    } else out[k] = v
  }
  return out
}
