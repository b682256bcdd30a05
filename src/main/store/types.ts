// The project store's interface: SQLite is the single source of truth for projects,
// datasets, curation presets, runs, metrics, weight snapshots, checkpoints and artifacts.
// Everything that crosses to the renderer is plain JSON (see src/shared/contract.ts).
import type { Curation, RunConfig } from '../../shared/config.ts'
import type { DatasetSummary, PresetRow, RunRow, RunStatus } from '../../shared/records.ts'
import type { ModelInfo } from '../../shared/models.ts'
import type { NamedTensor, WeightSnapshot } from '../common/tensors.ts'
import type { TraceDataset } from '../common/trace.ts'

export type { DatasetSummary, PresetRow, RunRow, RunStatus } from '../../shared/records.ts'
export type { ModelInfo as ModelRow } from '../../shared/models.ts'

export interface MetricPoint {
  step: number
  key: string
  value: number
}

export interface RunState {
  id: number
  name: string
  group: string | null
  status: RunStatus
  lastStep: number | null
  /** the process that runs (or ran) it */
  ownerPid: number | null
  startedAt: string | null
  error: string | null
}

export interface BcReferenceRow {
  key: string
  dataHash: string
  dataLabel: string | null
  settings: unknown
  backend: string
  trainMs: number
  createdAt: string
}

export interface CheckpointRow {
  id: number
  runId: number
  step: number
  /** path of the weights file (content-addressed) or null when stored inline */
  createdAt: string
  metrics: Record<string, number>
}

/** "Bring your own log-probs": per step of a dataset (Float32 × totalSteps), log π_ref and log
 *  π_policy computed elsewhere (vLLM, a PyTorch run), and the tokenizer that shows token text. */
export interface ImportedLogProbs {
  ref: Float32Array
  policy: Float32Array
  /** the tokenizer's spec (JSON), or null: token ids are shown */
  tokenizer: unknown
}

/** How a dataset's tokens were made from text by a model's tokenizer (models.ts in the store). */
export interface DatasetTokenization {
  tokenizerHash: string
  /** 'chat': prompt and completion rendered through the model's chat template; 'plain': text as
   *  is (with the model's BOS and EOS); 'ids': token ids as given, in the model's vocabulary */
  template: 'chat' | 'plain' | 'ids'
  /** the model whose tokenizer it was */
  modelName: string
}

/** The model methods of the store (store/model-store.ts). */
export interface ModelStore {
  /** a new model, or the one with the same hash (created: false) */
  putModel(m: Omit<ModelInfo, 'id' | 'createdAt'>): { id: number; created: boolean }
  listModels(): ModelInfo[]
  getModel(id: number): ModelInfo | null
  /** by id (digits) or by name */
  findModel(nameOrId: string): ModelInfo | null
  deleteModel(id: number): void
  setDatasetTokenization(datasetId: number, t: DatasetTokenization): void
  getDatasetTokenization(datasetId: number): DatasetTokenization | null
  /** run `f` in one write transaction: everything it stores, or nothing */
  transaction<T>(f: () => T): T
}

export interface ProjectStore extends ModelStore {
  readonly file: string
  /** opened read-only (asked for, or because the file is damaged) */
  readonly readonly: boolean
  /** what PRAGMA quick_check found wrong when the file was opened (then it is read-only), or null */
  readonly damage: string | null
  close(): void

  // datasets (putDataset is one transaction: all or nothing; same hash → existing id)
  putDataset(ds: TraceDataset, source: string): { id: number; hash: string; created: boolean }
  /** putDataset with the dataset's imported log-probs, in the same transaction; they replace
   *  those the same traces had (replacedLogProbs: and they differed) */
  putImportedDataset(ds: TraceDataset, source: string, imported: ImportedLogProbs): { id: number; hash: string; created: boolean; replacedLogProbs: boolean }
  getDataset(id: number): TraceDataset
  findDataset(nameOrId: string): DatasetSummary | null
  listDatasets(): DatasetSummary[]
  deleteDataset(id: number): void

  // curation presets
  savePreset(datasetId: number, name: string, curation: Curation): PresetRow
  listPresets(datasetId?: number): PresetRow[]

  /** a dataset's imported log-probs, or null when it has none (deleted with the dataset) */
  getImportedLogProbs(datasetId: number): ImportedLogProbs | null

  // reference scoring cache: log π_ref(a_t|s_t) for every step of a dataset, per reference model
  getRefLogProbs(refKey: string, dataHash: string): Float32Array | null
  putRefLogProbs(refKey: string, dataHash: string, logp: Float32Array): void

  // trained BC references (reference.kind "bc"), by the key of their settings and backend
  getBcReference(key: string): { tensors: NamedTensor[]; trainMs: number } | null
  putBcReference(r: { key: string; dataHash: string; dataLabel: string | null; settings: unknown; backend: string; tensors: NamedTensor[]; trainMs: number }): void
  listBcReferences(): BcReferenceRow[]

  // runs
  createRun(r: {
    name: string
    group?: string | null
    config: RunConfig
    datasetId: number | null
    dataHash: string | null
    backend: string | null
    versions: Record<string, string>
  }): number
  /** status 'running' also records this process's pid, so a dead owner is detected later */
  setRunStatus(runId: number, status: RunStatus, error?: string | null): void
  setRunBackend(runId: number, backend: string): void
  /** replace the run's versions record (a run of the Python trainer learns its packages' versions
   *  from the trainer's first stream row, and keeps its job id and job folder there) */
  setRunVersions(runId: number, versions: Record<string, string>): void
  /** one transaction */
  appendMetrics(runId: number, rows: MetricPoint[]): void
  putWeightSnapshot(runId: number, snap: WeightSnapshot): void
  putCheckpoint(runId: number, step: number, tensors: NamedTensor[], spec: unknown, metrics: Record<string, number>): number
  getCheckpoint(id: number): { row: CheckpointRow; tensors: NamedTensor[]; spec: unknown }
  listCheckpoints(runId: number): CheckpointRow[]
  listRuns(): RunRow[]
  getRun(id: number): RunRow | null
  renameRun(id: number, name: string): void
  /** the run and all it saved (metrics, snapshots, checkpoints), in one transaction; refuses a
   *  run still running in a live process */
  deleteRun(id: number): void
  getMetrics(runId: number, keys?: string[]): MetricPoint[]
  /** the run's metrics logged after `afterStep`, by step */
  getMetricsAfter(runId: number, afterStep: number): MetricPoint[]
  /** every run's state, cheaply (no config): what a watcher compares from one poll to the next */
  runStates(): RunState[]
  datasetIds(): number[]
  /** SQLite's data_version: changes when another connection (process, worker) commits to the file */
  dataVersion(): number
  metricKeys(runId: number): string[]
  listSnapshotSteps(runId: number): number[]
  getWeightSnapshot(runId: number, step: number): WeightSnapshot | null
  /** runs left 'running' by a process that no longer exists (its pid is gone, or now belongs to a
   *  process that started at another time, or it ran on another host) become 'interrupted';
   *  returns their ids */
  markInterrupted(): number[]
  /** a run stuck as running or queued becomes 'interrupted' now, with `why` as its error (the
   *  user's word that its process is gone; `iwsft resume --force`, the app's "mark interrupted") */
  markRunInterrupted(runId: number, why: string): void
}
