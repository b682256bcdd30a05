// "Bring your own log-probs" on the wire: the request schemas and result types of the byo.*
// requests (src/main/services/byo-service.ts implements them; src/renderer/src/views/
// ImportedWeights.tsx shows them). Platform-free: zod and shared/config only, so the contract
// and the renderer can import it.
import { z } from 'zod'
import { defaultConfig, WeightSettingsSchema, type WeightSettings } from './config.ts'
import type { DatasetSummary as DatasetInfo } from './records.ts'
import { ImportOptionFields, type SkippedRow } from './import-options.ts'
import type { WeightStats } from './weight-stats.ts'

/** The weight settings that apply to imported log-probs (q and q_refresh need a model). */
export const ByoSettingsSchema = WeightSettingsSchema.pick({ temp: true, aggregate: true, per_step: true, clamp: true, normalize: true, step_clip: true })
export type ByoSettings = Pick<WeightSettings, 'temp' | 'aggregate' | 'per_step' | 'clamp' | 'normalize' | 'step_clip'>

/** The settings imported weights start at: the LLM defaults of the authors' code (temp 1 on the
 *  mean log ratio, w clamped to [0, 16], no per-step transform, no normalisation). */
export function byoDefaultSettings(): ByoSettings {
  const { temp, aggregate, per_step, clamp, normalize, step_clip } = defaultConfig('sequence').weights
  return { temp, aggregate, per_step, clamp, normalize, step_clip }
}

export const ByoVariantSchema = z.enum(['trace', 'per_step'])
export type ByoVariant = z.infer<typeof ByoVariantSchema>

const datasetId = z.number().int().min(1)
const filePath = z.string().min(1).max(4096)
const col = z.string().min(1).max(200)
export const ByoMappingSchema = z.strictObject({
  prompt: col.optional(),
  completion: col.optional(),
  /** a chat column: a list of {role, content}; the last assistant message is the completion */
  messages: col.optional(),
  question: col.optional(),
  thinking: col.optional(),
  attempt: col.optional(),
  completionTemplate: z.string().max(1000).optional(),
  score: col.optional(),
  id: col.optional(),
  meta: z.array(col).max(50).optional(),
  tokens: col.optional(),
  promptTokens: col.optional(),
  refLogprobs: col.optional(),
  policyLogprobs: col.optional()
})

export const ByoImportInput = z.strictObject({
  path: filePath,
  name: z.string().min(1).max(200).optional(),
  /** a Hugging Face tokenizer.json: needed for text columns, and shows token text in the ρ view */
  tokenizerFile: filePath.optional(),
  format: z.enum(['jsonl', 'csv', 'parquet']).optional(),
  mapping: ByoMappingSchema.optional(),
  ...ImportOptionFields
})
export const ByoInspectInput = z.strictObject({
  datasetId,
  settings: ByoSettingsSchema,
  variant: ByoVariantSchema.optional(),
  bins: z.number().int().min(2).max(200).optional(),
  /** how many most and least weighted traces to list (default 20) */
  top: z.number().int().min(1).max(500).optional()
})
export const ByoTraceRhoInput = z.strictObject({
  datasetId,
  traceIndex: z.number().int().min(0),
  /** for g(ρ_t) and w_t (default: the LLM defaults) */
  settings: ByoSettingsSchema.optional()
})
export const ByoFollowInput = z.strictObject({
  path: filePath,
  name: z.string().min(1).max(200).optional(),
  tokenizerFile: filePath.optional(),
  mapping: ByoMappingSchema.optional(),
  /** the settings of the summary in each update (default: the LLM defaults) */
  settings: ByoSettingsSchema.optional(),
  variant: ByoVariantSchema.optional(),
  /** read what is already in the file first (default true) */
  fromStart: z.boolean().optional(),
  /** at most one stored version (and update) per this many ms (default 1000) */
  minUpdateMs: z.number().int().min(0).max(3_600_000).optional(),
  /** keep every stored version instead of deleting the previous one (default false) */
  keepVersions: z.boolean().optional()
})
/** the services layer's wrappers: a follow is named by the caller; byo.update events carry the name */
export const ByoFollowRequest = ByoFollowInput.extend({ followId: z.string().min(1).max(100) })
export const ByoUnfollowRequest = z.strictObject({ followId: z.string().min(1).max(100) })

export interface StepStats {
  /** masked steps in the set */
  n: number
  /** ESS of the per-step weights w_t, (Σw_t)² / Σw_t², and ESS / n */
  ess: number
  ess_fraction: number
  /** share of masked steps whose ratio exp(ρ_t) lies outside step_clip */
  clip_fraction: number
  /** mean of w_t over masked steps */
  w_mean: number
}

export interface ByoImportResult {
  dataset: DatasetInfo
  created: boolean
  /** the same traces were stored before with different log-probs; those were replaced */
  replacedLogProbs: boolean
  rows: number
  /** rows left out with skipBadRows, each with its reason */
  skipped: SkippedRow[]
  /** the tokenizer recorded for the token text (null: token ids are shown) */
  tokenizer: { kind: string; [k: string]: unknown } | null
}

export interface ByoTraceRow {
  index: number
  id: string
  score: number
  /** masked length |τ| */
  length: number
  logWRaw: number
  w: number
}

export interface ByoInspectResult {
  datasetId: number
  name: string
  numTraces: number
  numSteps: number
  variant: ByoVariant
  settings: ByoSettings
  stats: WeightStats
  /** per_step variant only */
  steps: StepStats | null
  /** Spearman rank correlation of w (the final weight) and of log w raw with the score; null when a side is constant */
  spearman: number | null
  spearmanRaw: number | null
  /** histograms of log w raw and of log w (clamped, normalised) on shared bin edges; weights
   *  clamped to 0 (log w = −∞) are not binned but counted in zeroWeights */
  hist: { edges: number[]; raw: number[]; clamped: number[]; zeroWeights: number }
  /** most weighted first / least weighted first */
  top: ByoTraceRow[]
  bottom: ByoTraceRow[]
  ms: number
}

export interface ByoToken {
  /** token id */
  id: number
  /** its text through the import's tokenizer, or the file's own token string; null when there was neither */
  text: string | null
  /** a prompt token: not counted in the weight */
  masked: boolean
  /** ρ_t = log q − log π_ref (null on masked steps) */
  rho: number | null
  /** g(ρ_t) after the per_step transform (null on masked steps) */
  g: number | null
  /** per-step weight clamp(exp ρ_t, step_clip) (null on masked steps) */
  w: number | null
  logq: number | null
  logref: number | null
}

export interface ByoTraceRhoResult {
  datasetId: number
  traceIndex: number
  id: string
  score: number
  tokens: ByoToken[]
  /** Σ_t ρ_t and Σ_t g(ρ_t) over the whole trace's masked steps */
  sumRho: number
  sumG: number
  /** only the first tokens are listed */
  truncated: boolean
  /** the tokenizer's kind, "strings" when the file gave its own token strings, null: token ids are shown */
  tokenizer: string | null
  /** the recorded tokenizer could not be loaded (ids are shown) */
  tokenizerError: string | null
}

export interface ByoFollowUpdate {
  datasetId: number
  /** data rows taken so far, new in this update, skipped as bad */
  rows: number
  newRows: number
  skipped: number
  numTraces: number
  ess: number
  ess_fraction: number
  clamp_fraction: number
  logw_raw_median: number
}
