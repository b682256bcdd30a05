// Events a training job streams while it runs (from a worker or in-process). Plain JSON,
// so they cross worker, IPC and WebSocket boundaries unchanged.

export interface RunProgressEvent {
  type: 'progress'
  runId: number
  /** 'reference' (fitting / scoring π_ref), 'train', 'eval' */
  phase: string
  step: number
  total: number
  elapsedMs: number
  etaMs: number
}

export interface RunMetricsEvent {
  type: 'metrics'
  runId: number
  step: number
  metrics: Record<string, number>
}

export interface RunEndEvent {
  type: 'end'
  runId: number
  status: 'completed' | 'failed' | 'cancelled'
  error?: string
  /** last value of every metric */
  final: Record<string, number>
}

export interface RunStartEvent {
  type: 'start'
  runId: number
  backend: string
  total: number
}

export type RunEvent = RunStartEvent | RunProgressEvent | RunMetricsEvent | RunEndEvent

export interface RunHandle {
  /** resolves once the run row exists in the project */
  runId: Promise<number>
  /** asks the job to stop; it stops within a second, keeping what it saved, status 'cancelled' */
  cancel(): void
  done: Promise<RunEndEvent>
}
