// The project's records as every side sees them: stored by the project store (src/main/store),
// sent over the contract (src/shared/contract.ts) and shown by the renderer. Plain types with no
// platform imports, so the renderer can use them too.
import type { Curation, RunConfig, TraceKind } from './config.ts'

export type { TraceKind } from './config.ts'
export type RunStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled' | 'interrupted'

export interface DatasetSummary {
  id: number
  name: string
  kind: TraceKind
  hash: string
  numTraces: number
  numSteps: number
  obsDim: number
  actDim: number
  /** where it came from: "builtin:bandit", "file:/path/x.jsonl", "generated:control/hopper" … */
  source: string
  createdAt: string
  scoreMin: number
  scoreMax: number
}

export interface PresetRow {
  id: number
  datasetId: number
  name: string
  curation: Curation
  createdAt: string
}

export interface RunRow {
  id: number
  name: string
  group: string | null
  method: RunConfig['method']
  status: RunStatus
  seed: number
  /** the backend the run actually used ("native-cpu", "wasm", …) */
  backend: string | null
  datasetId: number | null
  dataHash: string | null
  config: RunConfig
  /** package and runtime versions (node, tfjs, app, …) */
  versions: Record<string, string>
  error: string | null
  createdAt: string
  startedAt: string | null
  endedAt: string | null
  /** last step with logged metrics */
  lastStep: number | null
}
