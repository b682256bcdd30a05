// The ONE contract between the user interface and the back end: a map of requests
// (name → zod input schema and output type) and a map of events (name → payload type).
// One wire carries it to the app: HTTP + WebSocket from the local back end (`iwsft serve`),
// whether the page is a browser tab or the desktop shell's window; the command line and the
// tests call the services directly. Every input is validated with these schemas where it
// enters the back end (HTTP handler, direct call).
//
// Everything here is plain JSON: typed arrays are turned into number arrays on the wire. This
// file is shared with the renderer, so it imports nothing platform-specific (no src/main).
import { z } from 'zod'
import { CurationSchema, METHODS, type FieldIssue, type RunConfig } from './config.ts'
import type { DatasetSummary, PresetRow, RunRow, TraceKind } from './records.ts'
import type { RunDiagnostics } from './weight-stats.ts'
import {
  ModelProgressSchema,
  ModelsAddInput,
  ModelsCancelInput,
  ModelsFetchInput,
  ModelsGenerateInput,
  ModelsGetInput,
  ModelsRemoveInput,
  ModelsSampleInput,
  ModelsScoreDatasetInput,
  ModelsScoreInput,
  ModelsWeighDatasetInput,
  type ModelGeneration,
  type ModelInfo,
  type ModelProgress,
  type ModelScore,
  type SampleResult,
  type ScoreDatasetResult
} from './models.ts'
import {
  LaunchEmitInput,
  LaunchFollowInput,
  LaunchPlanInput,
  LaunchStartInput,
  PythonInstallInput,
  PythonInstallProgressSchema,
  type LaunchEmitted,
  type LaunchFollowed,
  type LaunchPlan,
  type LaunchStarted,
  type PythonInstallProgress,
  type PythonStatus
} from './launch.ts'
import {
  ByoFollowRequest,
  ByoImportInput,
  ByoInspectInput,
  ByoMappingSchema,
  ByoTraceRhoInput,
  ByoUnfollowRequest,
  type ByoFollowUpdate,
  type ByoImportResult,
  type ByoInspectResult,
  type ByoTraceRhoResult
} from './byo.ts'
import { ImportOptionFields, type SkippedRow } from './import-options.ts'

export { IMPORT_LIMIT_DEFAULTS, type SkippedRow } from './import-options.ts'

// ----------------------------------------------------------------------------- wire types

export type { TraceKind, RunStatus } from './records.ts'

export type DatasetInfo = DatasetSummary

/** Per-trace columns for the curation view (index i = trace i). */
/** A text file's columns and first rows for the import's mapping step (datasets.preview). */
export interface DatasetPreview {
  format: 'jsonl' | 'csv' | 'parquet'
  columns: string[]
  /** the first rows: one cell a column, as display text (lists as JSON, long text cut) */
  rows: string[][]
  /** the mapping detected from the column names, and the layout recognised (null: none) */
  detected: z.infer<typeof ByoMappingSchema>
  layout: string | null
}

export interface DatasetColumns {
  id: number
  ids: string[]
  scores: number[]
  /** masked length |τ| */
  lengths: number[]
  /** compact JSON of each trace's metadata ('' when none), for filtering and display */
  meta: string[]
}

export interface TraceDetail {
  datasetId: number
  index: number
  id: string
  kind: TraceKind
  score: number
  obsDim: number
  actDim: number
  /** per step: discrete/sequence → [action]; continuous → action vector */
  actions: number[][]
  /** per step observation vectors (empty arrays when obsDim = 0); at most 2000 steps */
  obs: number[][]
  mask: number[]
  rewards: number[] | null
  meta: Record<string, unknown> | null
  truncated: boolean
  /** sequence data tokenised as a project model reads it: each shown step's token as text (the
   *  tokenizer's piece, e.g. " is"), else null (token ids, or bytes for byte-level data) */
  tokenTexts: string[] | null
  /** whose tokenizer gave tokenTexts ('model "llama"'), or why no token text could be given */
  tokenizerNote: string | null
}

export interface BuiltinInfo {
  name: string
  description: string
  /** already in the project (at its default options) */
  added: boolean
}

export type PresetInfo = PresetRow

export interface RunInfo extends RunRow {
  /** set while the run goes: this back end's job's progress, or what the back end read from the
   *  project file for a run of another process */
  live: LiveProgress | null
  /** running in another process (the command line, another window): followed from the project
   *  file, cancelled where it was started */
  elsewhere: boolean
}

/** What π_ref costs a run before it starts (runs.referenceCost): no BC reference, one trained
 *  earlier on the same data and settings (reused), or `steps` of behaviour cloning, about
 *  `estimateMs` long from the rate measured on this project (null before the first). */
export type ReferenceCost = { kind: 'none' } | { kind: 'cached'; steps: number; backend: string } | { kind: 'train'; steps: number; estimateMs: number | null }

export interface LiveProgress {
  phase: string
  step: number
  total: number
  elapsedMs: number
  etaMs: number
}

export interface Series {
  steps: number[]
  values: number[]
}

export interface RunMetrics {
  runId: number
  series: Record<string, Series>
}

export interface SnapshotData {
  runId: number
  step: number
  traceIndex: number[]
  logWRaw: number[]
  /** w as the loss uses it (version 2: clamped, then normalised under the sampling mass when
   *  weights.normalize is on; version 1: normalised over the unique curated traces) */
  w: number[]
  /** the stored format (WeightSnapshot in src/main/common/tensors.ts) */
  version: 1 | 2
  /** version 2: the clamped w (before any normalisation) and each trace's sampling mass μ
   *  (quality-bin multiplicity for D_Q+ methods, 1 for D+) */
  wClamped?: number[]
  mass?: number[]
  /** version 2, trace-weighted methods: the step's training batch (trace indices with repeats)
   *  and the weights the loss gave its rows */
  batch?: { traceIndex: number[]; w: number[] } | null
  /** the run's weight clamp [lo, hi] (on w) */
  clamp: [number, number]
  /** scores of the snapshot's traces (same order as traceIndex) */
  scores: number[]
}

export type SweepParams = Record<string, number | string | boolean>

export interface SweepStart {
  group: string
  /** the runs in the order they will run */
  runs: Array<{ params: SweepParams; seed: number }>
}

export interface SweepStatus {
  group: string
  status: 'running' | 'completed' | 'failed' | 'cancelled'
  total: number
  /** runs that have ended */
  done: number
  runIds: number[]
  error?: string
}

/** One grid point of a sweep: its settings, the final value of `metric` per seed (mean, sample
 *  std) and the mean ESS/N of its weights at the last snapshot (null: no weights, e.g. SFT). */
export interface SweepPointResult {
  params: SweepParams
  metric: string
  mean: number | null
  std: number | null
  seeds: number
  values: Array<number | null>
  ess_n_final: number | null
  run_ids: number[]
  /** weight warnings of its runs (ESS/N < 0.2 or > 0.98) */
  warnings: string[]
}

export interface SweepResults {
  group: string
  metric: string
  results: SweepPointResult[]
}

export interface HeatmapData {
  runId: number
  steps: number[]
  /** bin edges of log w raw, shared by every step */
  edges: number[]
  /** counts[stepIndex][bin] */
  counts: number[][]
}

export interface TraceRho {
  runId: number
  traceIndex: number
  /** the checkpoint's step (the run's last) */
  step: number
  /** per step of the trace; null where the step is masked out */
  rho: Array<number | null>
  logp: number[]
  logref: number[]
  mask: number[]
}

/** A run's checkpoint evaluated again (runs.eval): in its environment, or offline on held-out traces. */
export interface RunEvaluation {
  runId: number
  /** the checkpoint's step */
  step: number
  metrics: Record<string, number>
}

/** One trace's weight at a saved step, with its score and quality bin (the curation's multiplicity, 0 = left out). */
export interface TraceWeight {
  trace: number
  id: string
  logWRaw: number
  w: number
  score: number
  bin: number
}

export interface RunWeights {
  runId: number
  step: number
  traces: TraceWeight[]
}

export interface CheckpointInfo {
  id: number
  step: number
  createdAt: string
  metrics: Record<string, number>
}

export interface ExportInfo {
  runId: number
  step: number
  format: 'tfjs' | 'safetensors' | 'hf' | 'peft'
  /** absolute paths written */
  files: string[]
}

/** A report file handed to the browser for download: text as is, binary (PDF) as base64. */
export interface ReportFile {
  name: string
  content: string
  encoding: 'utf8' | 'base64'
  mime: string
}

export interface BackendProbe {
  name: string
  available: boolean
  detail: string
}

export interface BackendStatus {
  /** what a new run with backend "auto" uses */
  active: string | null
  /** every backend in the order "auto" tries them, with why it is (not) available */
  backends: BackendProbe[]
  native: Array<{ variant: 'cpu' | 'gpu'; installed: boolean; detail: string }>
  gpu: { present: boolean; detail: string }
  /** an install this back end is running (or ran last) */
  install: BackendInstallProgress | null
  checkedAt: string
}

export interface BackendInstallProgress {
  step: number
  total: number
  label: string
  fraction?: number
  message?: string
  status: 'running' | 'completed' | 'failed'
  error?: string
  gpu: boolean
}

export interface GeomInfoWire {
  name: string
  type: number
  size: number[]
  rgba: number[]
}

export interface EpisodeReplayData {
  runId: number
  /** the checkpoint's step whose policy played */
  step: number
  task: string
  seed: number
  obsDim: number
  actDim: number
  length: number
  ret: number
  terminated: boolean
  dt: number
  /** per step t */
  obs: number[][]
  actions: number[][]
  rewards: number[]
  geoms: GeomInfoWire[]
  /** (length + 1) poses, each ngeom × 12 (position, then row-major rotation) */
  poses: number[][]
}

export interface ProjectInfo {
  file: string
  name: string
  recent: string[]
  /** set when the file is damaged (PRAGMA quick_check failed on open): what is wrong and how to
   *  recover; the project is then open read-only */
  damage?: string
}

/** What project.recover copied out of a damaged project, table by table. */
export interface RecoverInfo {
  file: string
  out: string
  tables: Array<{ table: string; copied: number; gaps: number; orphans: number }>
}

export interface Capabilities {
  /** 'http' (the app, in a browser tab or the desktop window) or 'cli' (the command line calling the services directly) */
  transport: 'http' | 'cli'
  /** the desktop shell runs this back end: its window offers native dialogs (open/save project, file picker) */
  dialogs: boolean
  /** importable file extensions */
  importFormats: string[]
  /** what happens to running jobs when the window closes */
  onClose: string
}

export type { FieldIssue }

// ----------------------------------------------------------------------------- requests

const id = z.number().int().min(1)
const empty = z.strictObject({})

/** where a config came from (a file name), named in its errors */
const configSource = z.string().min(1).max(4096).optional()

/** A run to launch: a full or partial RunConfig (merged over the defaults of its dataset's domain
 *  and validated by resolveConfig on the back end), and the seeds to launch it with as one group. */
const StartRunsInput = z.strictObject({
  config: z.record(z.string(), z.unknown()),
  seeds: z
    .array(
      z
        .number()
        .int()
        .min(0)
        .max(2 ** 31 - 1)
    )
    .min(1)
    .max(32),
  group: z.string().max(200).optional(),
  source: configSource
})

/** A sweep (sweeps.start): the config's settings at dotted key paths ("weights.temp",
 *  "weights.q.beta") take each listed value, every combination (the grid) with each seed. */
const SweepValue = z.union([z.number().refine(Number.isFinite, 'must be a finite number'), z.string().max(200), z.boolean()])
const SweepGrid = z
  .array(
    z.strictObject({
      key: z.string().regex(/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$/, 'a dotted key path such as weights.temp'),
      values: z.array(SweepValue).min(1).max(50)
    })
  )
  .min(1)
  .max(8)
  .refine((g) => new Set(g.map((x) => x.key)).size === g.length, 'each key may appear once in a grid')
const StartSweepInput = z.strictObject({
  config: z.record(z.string(), z.unknown()),
  grid: SweepGrid,
  /** seeds 0 … seeds−1 at every grid point */
  seeds: z.number().int().min(1).max(20),
  group: z.string().max(200).optional(),
  source: configSource
})

export const requestSchemas = {
  'app.capabilities': empty,
  'project.info': empty,
  /** open (or create, when `create`) a project file */
  'project.open': z.strictObject({ file: z.string().min(1).max(4096), create: z.boolean().optional() }),
  /** copy what can be read of the open (damaged) project into a new project file `out` (a file
   *  name in the project's folder; the command line may name any path) */
  'project.recover': z.strictObject({ out: z.string().trim().min(1).max(4096) }),

  'datasets.list': empty,
  'datasets.columns': z.strictObject({ datasetId: id }),
  'datasets.trace': z.strictObject({ datasetId: id, index: z.number().int().min(0) }),
  /** import a file the back end can read (a picked path, or an upload's temporary path) */
  'datasets.import': z.strictObject({
    path: z.string().min(1).max(4096),
    /** the name shown in the list (default: the file's name) */
    name: z.string().min(1).max(200).optional(),
    format: z.enum(['jsonl', 'csv', 'parquet', 'hdf5', 'traces.json']).optional(),
    /** which column holds what (keys of the text importer's mapping; an unknown key is refused) */
    mapping: ByoMappingSchema.optional(),
    /** a Hugging Face tokenizer.json for text columns (default: bytes) */
    tokenizerFile: z.string().min(1).max(4096).optional(),
    /** or a model of the project (name or id): text tokenised as that model reads it, so the model can score it */
    tokenizerModel: z.string().trim().min(1).max(200).optional(),
    /** with tokenizerModel: prompt and completion through its chat template (default true when it has one) */
    chat: z.boolean().optional(),
    /** chosen by the caller; import.progress events carry it */
    importId: z.string().min(1).max(100),
    ...ImportOptionFields
  }),
  /** the columns and first rows of a JSONL, CSV or Parquet file, and the column mapping detected
   *  from its column names (the import's mapping step) */
  'datasets.preview': z.strictObject({
    path: z.string().min(1).max(4096),
    format: z.enum(['jsonl', 'csv', 'parquet']).optional(),
    /** how many rows to show (default 5) */
    rows: z.number().int().min(1).max(50).optional()
  }),
  /** a dataset by id or by name (the newest of that name), as configs and the command line name them */
  'datasets.find': z.strictObject({ ref: z.string().trim().min(1).max(4096) }),
  'datasets.delete': z.strictObject({ datasetId: id }),
  'datasets.builtins': empty,
  /** generate a built-in dataset (in a worker) and store it; import.progress events carry importId */
  'datasets.addBuiltin': z.strictObject({ name: z.string().min(1).max(100), importId: z.string().min(1).max(100), quick: z.boolean().optional() }),
  'datasets.scoreReference': z.strictObject({ datasetId: id }),

  'presets.list': z.strictObject({ datasetId: id.optional() }),
  'presets.save': z.strictObject({ datasetId: id, name: z.string().trim().min(1).max(200), curation: CurationSchema }),

  'config.validate': z.strictObject({ config: z.record(z.string(), z.unknown()), source: configSource }),
  'runs.list': empty,
  'runs.get': z.strictObject({ runId: id }),
  'runs.start': StartRunsInput,
  /** run a grid of settings × seeds as one stored group, one run after another (sweeps.ts) */
  'sweeps.start': StartSweepInput,
  /** "Run on" (issue 18, launch.ts): the commands for this machine, accelerate here, or a cluster */
  'launch.plan': LaunchPlanInput,
  /** run on the Python trainer (TRL + accelerate) on this machine, recorded and followed live */
  'launch.start': LaunchStartInput,
  /** write a self-contained job folder for a cluster */
  'launch.emit': LaunchEmitInput,
  /** record and follow a job folder's stream (synced back from a cluster) */
  'launch.follow': LaunchFollowInput,
  /** the Python environment of the trainer (a venv in the cache) */
  'python.status': empty,
  /** make it (python.install events report progress) */
  'python.install': PythonInstallInput,
  'sweeps.status': z.strictObject({ group: z.string().min(1).max(200) }),
  'sweeps.cancel': z.strictObject({ group: z.string().min(1).max(200) }),
  /** a stored group's final metric per setting: mean ± std over seeds and weight ESS/N */
  'sweeps.results': z.strictObject({ group: z.string().min(1).max(200), metric: z.string().min(1).max(100).optional() }),
  'runs.cancel': z.strictObject({ runId: id }),
  /** a run stuck as running whose process is gone (the user says so): mark it interrupted, so it can resume */
  'runs.markInterrupted': z.strictObject({ runId: id }),
  /** continue an interrupted, cancelled or failed run from its last checkpoint (same metrics as an unbroken run) */
  'runs.resume': z.strictObject({ runId: id }),
  /** reload a checkpoint (default the last) and evaluate it; `episodes` for environments with episodes */
  'runs.eval': z.strictObject({ runId: id, step: z.number().int().min(0).optional(), episodes: z.number().int().min(1).max(100_000).optional() }),
  'runs.delete': z.strictObject({ runId: id }),
  'runs.rename': z.strictObject({ runId: id, name: z.string().trim().min(1).max(200) }),
  /** will a run with this config train its BC reference, or reuse one, and for how long */
  'runs.referenceCost': z.strictObject({ config: z.record(z.string(), z.unknown()), source: configSource }),
  'runs.metrics': z.strictObject({ runIds: z.array(id).min(1).max(100), keys: z.array(z.string().min(1)).optional() }),
  'runs.snapshotSteps': z.strictObject({ runId: id }),
  'runs.snapshot': z.strictObject({ runId: id, step: z.number().int().min(0) }),
  /** per-trace weights at a saved step (default the last) with each trace's id, score and quality bin */
  'runs.weights': z.strictObject({ runId: id, step: z.number().int().min(0).optional() }),
  /** the run's weight diagnostics (ESS/N over training, top shares, clamp, rank correlations) and
   *  their warnings; null for a method without importance weights to judge (BC) */
  'runs.diagnostics': z.strictObject({ runId: id }),
  'runs.heatmap': z.strictObject({ runId: id, bins: z.number().int().min(2).max(200).optional() }),
  /** per-step ρ_t = log π_θ(a_t|s_t) − log π_ref(a_t|s_t) of one trace under the run's last checkpoint */
  'runs.traceRho': z.strictObject({ runId: id, traceIndex: z.number().int().min(0), step: z.number().int().min(0).optional() }),
  'runs.checkpoints': z.strictObject({ runId: id }),
  /** export a checkpoint (default the last) into a folder the user chose; refuses to replace files unless overwrite */
  'runs.export': z.strictObject({
    runId: id,
    step: z.number().int().min(0).optional(),
    /** hf (merged Hugging Face folder) and peft (LoRA adapter): runs that fine-tune a language model */
    format: z.enum(['tfjs', 'safetensors', 'hf', 'peft']),
    outDir: z.string().trim().min(1).max(4096),
    overwrite: z.boolean().optional(),
    /** a tokenizer.json (parsed) to write beside the weights */
    tokenizer: z.record(z.string(), z.unknown()).optional()
  }),
  /** a report of one or more runs; with `out` it is written there (a file, or a folder for csv),
   *  without it the files come back for the browser to download */
  'reports.make': z.strictObject({
    runIds: z.array(id).min(1).max(50),
    format: z.enum(['html', 'md', 'pdf', 'csv']),
    out: z.string().trim().min(1).max(4096).optional(),
    overwrite: z.boolean().optional(),
    title: z.string().trim().min(1).max(500).optional()
  }),
  /** play one episode of a control run's policy (default its last checkpoint) */
  'runs.replay': z.strictObject({
    runId: id,
    step: z.number().int().min(0).optional(),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .optional()
  }),
  'backend.status': z.strictObject({ refresh: z.boolean().optional() }),
  /** build the native backend (in a worker); backend.install events report each step */
  'backend.install': z.strictObject({ gpu: z.boolean().optional(), force: z.boolean().optional() }),
  /** bring your own log-probs (src/shared/byo.ts): import, weights under any settings, one trace's ρ_t, follow a JSONL log */
  'byo.import': ByoImportInput,
  'byo.inspect': ByoInspectInput,
  'byo.traceRho': ByoTraceRhoInput,
  'byo.follow': ByoFollowRequest,
  'byo.unfollow': ByoUnfollowRequest,
  /** real language models (src/shared/models.ts): the project's models, fetch / add / remove,
   *  generate and score text, reference-score a dataset, sample a scored dataset; model.progress
   *  events carry the caller's jobId */
  'models.list': empty,
  'models.get': ModelsGetInput,
  'models.add': ModelsAddInput,
  'models.fetch': ModelsFetchInput,
  'models.remove': ModelsRemoveInput,
  'models.generate': ModelsGenerateInput,
  'models.score': ModelsScoreInput,
  'models.scoreDataset': ModelsScoreDatasetInput,
  'models.weighDataset': ModelsWeighDatasetInput,
  'models.sample': ModelsSampleInput,
  'models.cancel': ModelsCancelInput
} as const

export interface RequestOutputs {
  'app.capabilities': Capabilities
  'project.info': ProjectInfo
  'project.open': ProjectInfo
  'project.recover': RecoverInfo
  'datasets.list': DatasetInfo[]
  'datasets.columns': DatasetColumns
  'datasets.trace': TraceDetail
  /** logProbs: the file carried per-step log-probs, stored as imported log-probs (see byo.*);
   *  skipped: rows left out with skipBadRows, each with its reason */
  'datasets.import': { dataset: DatasetInfo; created: boolean; logProbs: boolean; skipped: SkippedRow[] }
  'datasets.preview': DatasetPreview
  'datasets.find': DatasetInfo
  'datasets.delete': { ok: true }
  'datasets.builtins': BuiltinInfo[]
  'datasets.addBuiltin': { dataset: DatasetInfo; created: boolean }
  'datasets.scoreReference': { ok: true }
  'presets.list': PresetInfo[]
  'presets.save': PresetInfo
  'config.validate': { ok: true; config: RunConfig } | { ok: false; message: string; issues: FieldIssue[] }
  'runs.list': RunInfo[]
  'runs.get': RunInfo
  'runs.start': { runIds: number[]; group: string | null }
  'sweeps.start': SweepStart
  'launch.plan': LaunchPlan
  'launch.start': LaunchStarted
  'launch.emit': LaunchEmitted
  'launch.follow': LaunchFollowed
  'python.status': PythonStatus
  'python.install': PythonStatus
  'sweeps.status': SweepStatus
  'sweeps.cancel': { ok: true }
  'sweeps.results': SweepResults
  'runs.cancel': { ok: true }
  'runs.markInterrupted': { ok: true }
  'runs.resume': { runId: number }
  'runs.eval': RunEvaluation
  'runs.delete': { ok: true }
  'runs.rename': { ok: true }
  'runs.referenceCost': ReferenceCost
  'runs.metrics': RunMetrics[]
  'runs.snapshotSteps': number[]
  'runs.snapshot': SnapshotData
  'runs.weights': RunWeights
  'runs.diagnostics': RunDiagnostics | null
  'runs.heatmap': HeatmapData
  'runs.traceRho': TraceRho
  'runs.checkpoints': CheckpointInfo[]
  'runs.export': ExportInfo
  'reports.make': { written: string[]; files: ReportFile[] }
  'runs.replay': EpisodeReplayData
  'backend.status': BackendStatus
  'backend.install': { started: true }
  'byo.import': ByoImportResult
  'byo.inspect': ByoInspectResult
  'byo.traceRho': ByoTraceRhoResult
  'byo.follow': { ok: true }
  'byo.unfollow': { ok: true }
  'models.list': ModelInfo[]
  'models.get': ModelInfo
  'models.add': { model: ModelInfo; created: boolean }
  'models.fetch': { model: ModelInfo; created: boolean; downloaded: boolean }
  'models.remove': { ok: true }
  'models.generate': ModelGeneration
  'models.score': ModelScore
  'models.scoreDataset': ScoreDatasetResult
  /** the dataset's imported log-probs now hold π_ref (`ref`) and q (`q`): open it in the Imported weights view */
  'models.weighDataset': { datasetId: number; ref: ScoreDatasetResult; q: ScoreDatasetResult }
  'models.sample': SampleResult
  'models.cancel': { cancelled: boolean }
}

export type RequestName = keyof typeof requestSchemas
export type RequestInput<N extends RequestName> = z.input<(typeof requestSchemas)[N]>
export type RequestParsed<N extends RequestName> = z.output<(typeof requestSchemas)[N]>
export type RequestOutput<N extends RequestName> = RequestOutputs[N]
export const REQUEST_NAMES = Object.keys(requestSchemas) as RequestName[]

export const isRequestName = (s: string): s is RequestName => Object.prototype.hasOwnProperty.call(requestSchemas, s)

// ----------------------------------------------------------------------------- events

export interface EventPayloads {
  'run.start': { runId: number; backend: string; total: number }
  'run.progress': { runId: number; phase: string; step: number; total: number; elapsedMs: number; etaMs: number }
  'run.metrics': { runId: number; step: number; metrics: Record<string, number> }
  'run.end': { runId: number; status: 'completed' | 'failed' | 'cancelled'; error?: string; final: Record<string, number> }
  'import.progress': { importId: string; done: number; total: number }
  'score.progress': { datasetId: number; done: number; total: number; status: 'running' | 'completed' | 'failed'; error?: string }
  /** the project's content changed (datasets, presets, runs, or another project opened) */
  'project.changed': { what: 'datasets' | 'presets' | 'runs' | 'project' | 'models' }
  'backend.install': BackendInstallProgress
  /** a followed log grew: its rows so far are stored as dataset `datasetId` */
  'byo.update': ByoFollowUpdate & { followId: string }
  /** a followed log had a bad line, or an update (or its tokenizer) failed; following goes on unless said */
  'byo.error': { followId: string; message: string }
  /** a model job's progress (fetch, add, load, scoring, sampling), by the caller's jobId */
  'model.progress': ModelProgress
  /** making the trainer's Python environment (python.install) */
  'python.install': PythonInstallProgress
}
export type EventName = keyof EventPayloads
export const EVENT_NAMES: EventName[] = [
  'run.start',
  'run.progress',
  'run.metrics',
  'run.end',
  'import.progress',
  'score.progress',
  'project.changed',
  'backend.install',
  'byo.update',
  'byo.error',
  'model.progress',
  'python.install'
]
export const isEventName = (s: string): s is EventName => (EVENT_NAMES as string[]).includes(s)

/** Schemas of the event payloads, so a client can check what arrives over the wire. */
const finiteRecord = z.record(z.string(), z.number())
export const eventSchemas: { [E in EventName]: z.ZodType<EventPayloads[E]> } = {
  'run.start': z.object({ runId: z.number(), backend: z.string(), total: z.number() }),
  'run.progress': z.object({ runId: z.number(), phase: z.string(), step: z.number(), total: z.number(), elapsedMs: z.number(), etaMs: z.number() }),
  'run.metrics': z.object({ runId: z.number(), step: z.number(), metrics: finiteRecord }),
  'run.end': z.object({
    runId: z.number(),
    status: z.enum(['completed', 'failed', 'cancelled']),
    error: z.string().optional(),
    final: finiteRecord
  }),
  'import.progress': z.object({ importId: z.string(), done: z.number(), total: z.number() }),
  'score.progress': z.object({
    datasetId: z.number(),
    done: z.number(),
    total: z.number(),
    status: z.enum(['running', 'completed', 'failed']),
    error: z.string().optional()
  }),
  'project.changed': z.object({ what: z.enum(['datasets', 'presets', 'runs', 'project', 'models']) }),
  'backend.install': z.object({
    step: z.number(),
    total: z.number(),
    label: z.string(),
    fraction: z.number().optional(),
    message: z.string().optional(),
    status: z.enum(['running', 'completed', 'failed']),
    error: z.string().optional(),
    gpu: z.boolean()
  }),
  'byo.update': z.object({
    followId: z.string(),
    datasetId: z.number(),
    rows: z.number(),
    newRows: z.number(),
    skipped: z.number(),
    numTraces: z.number(),
    ess: z.number(),
    ess_fraction: z.number(),
    clamp_fraction: z.number(),
    logw_raw_median: z.number()
  }),
  'byo.error': z.object({ followId: z.string(), message: z.string() }),
  'model.progress': ModelProgressSchema,
  'python.install': PythonInstallProgressSchema
}

// ----------------------------------------------------------------------------- errors

/** The error every transport returns: a message that says what was wrong, where and what to
 *  do, plus field issues (for forms) when the input failed validation. */
export interface WireError {
  message: string
  /** 'invalid_input' (schema), 'invalid_config' (run settings), 'invalid_data' (a file that is
   *  not what it claims), 'not_found', 'exists' (a file would be replaced: ask, then retry with
   *  overwrite), 'forbidden' (a path outside the folders the app may use), 'unauthorized' (no or
   *  a wrong token, or a request from another origin), 'failed' (anything else) */
  code: 'invalid_input' | 'invalid_config' | 'invalid_data' | 'not_found' | 'exists' | 'forbidden' | 'failed' | 'unauthorized'
  issues?: FieldIssue[]
}

export type WireResult<T> = { ok: true; value: T } | { ok: false; error: WireError }

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: WireError['code'] = 'failed',
    readonly issues: FieldIssue[] = []
  ) {
    super(message)
    this.name = 'ApiError'
  }
  toWire(): WireError {
    return { message: this.message, code: this.code, ...(this.issues.length ? { issues: this.issues } : {}) }
  }
}

function issuesOf(error: z.ZodError): FieldIssue[] {
  return error.issues.map((i) => {
    if (i.code === 'unrecognized_keys') return { path: [...i.path, ...i.keys].join('.'), message: 'unknown key' }
    return { path: i.path.join('.'), message: i.message }
  })
}

/** Validate a request's input against the contract; throws ApiError('invalid_input') naming
 *  every offending field. */
export function parseInput<N extends RequestName>(name: N, input: unknown): RequestParsed<N> {
  const schema = requestSchemas[name]
  const r = schema.safeParse(input ?? {})
  if (!r.success) {
    const issues = issuesOf(r.error)
    const text = issues.map((i) => `${i.path || '(input)'}: ${i.message}`).join('; ')
    throw new ApiError(`${name}: invalid input: ${text}`, 'invalid_input', issues)
  }
  return r.data as RequestParsed<N>
}

export function toWireError(e: unknown): WireError {
  if (e instanceof ApiError) return e.toWire()
  const message = e instanceof Error ? e.message : String(e)
  return { message, code: 'failed' }
}

// ----------------------------------------------------------------------------- desktop extras

export { PICK_KINDS, type PickKind } from './pickers.ts'

// ----------------------------------------------------------------------------- the API shape

export type Handlers = { [N in RequestName]: (input: RequestParsed<N>) => Promise<RequestOutput<N>> }

/** What the renderer sees, whatever the transport. */
export interface Api {
  invoke<N extends RequestName>(name: N, input: RequestInput<N>): Promise<RequestOutput<N>>
  on<E extends EventName>(event: E, cb: (payload: EventPayloads[E]) => void): () => void
}

/** The method list, re-exported for forms. */
export { METHODS }
