// The jobs the services hand to a worker thread (import-job.ts starts one, import-worker.ts runs
// it): each is a name, a plain input, a result and a short description for errors. Engine code is
// imported inside each job, so this map is cheap to load on the caller's side.
import type { BackendStatus, EpisodeReplayData, RunEvaluation, TraceRho } from '../../shared/contract.ts'
import type { TraceDataset } from '../common/trace.ts'
import type { ImportResult } from '../engine/data/import.ts'

/** skipBadRows, maxTraceSteps, maxLineBytes (src/shared/import-options.ts) */
type ImportLimits = { skipBadRows?: boolean; maxTraceSteps?: number; maxLineBytes?: number }

/** What a job can report while it runs. */
export interface JobContext {
  /** items done of total (rows read, episodes rolled out) */
  progress(done: number, total: number): void
  /** one step of a multi-step job (the backend install) */
  step(p: InstallStep): void
}

export interface InstallStep {
  step: number
  total: number
  label: string
  fraction?: number
  message?: string
}

interface JobDef<I, R> {
  /** for "the import worker stopped before finishing …" */
  what(input: I): string
  run(input: I, ctx: JobContext): Promise<R>
  /** buffers to move to the caller instead of copying (large typed arrays) */
  transfer?(result: R): ArrayBuffer[]
}

const def = <I, R>(d: JobDef<I, R>): JobDef<I, R> => d

const datasetBuffers = (ds: TraceDataset): ArrayBuffer[] => [ds.offsets, ds.obs, ds.actions, ds.mask, ds.scores, ...(ds.rewards ? [ds.rewards] : [])].map((a) => a.buffer as ArrayBuffer)

export const JOBS = {
  /** parse a data file (any supported format), with its per-step log-probs when it carries them */
  import: def({
    what: (
      i: {
        file: string
        format?: string
        mapping?: Record<string, string | string[]>
        name?: string
        tokenizerFile?: string
        tokenizerModel?: { path: string; chat: boolean }
      } & ImportLimits
    ) => i.file,
    run: async (i, ctx): Promise<ImportResult> => {
      const { importDatasetFileFull } = await import('../engine/data/import.ts')
      const { file, ...opts } = i
      return importDatasetFileFull(file, { ...opts, onProgress: (d, t) => ctx.progress(d, t) })
    },
    transfer: (r) => [...datasetBuffers(r.dataset), ...[r.refLogProbs, r.policyLogProbs].flatMap((a) => (a ? [a.buffer as ArrayBuffer] : []))]
  }),
  /** generate a built-in dataset (control rollouts can take minutes) */
  builtin: def({
    what: (i: { name: string; options: Record<string, number | string | boolean> }) => i.name,
    run: async (i, ctx): Promise<TraceDataset> => {
      const { getBuiltin } = await import('../engine/datasets/builtin.ts')
      const b = getBuiltin(i.name)
      if (!b) throw new Error(`unknown built-in dataset "${i.name}"`)
      return b.make(i.options, (d, t) => ctx.progress(d, t))
    },
    transfer: datasetBuffers
  }),
  /** per-step ρ of one trace under a run's checkpoint */
  traceRho: def({
    what: (i: { projectFile: string; runId: number; traceIndex: number; step?: number }) => `ρ of trace ${i.traceIndex}`,
    run: async (i): Promise<TraceRho> => (await import('../jobs/checkpoint-jobs.ts')).traceRhoOfRun(i)
  }),
  /** one episode of a control run's policy */
  replay: def({
    what: (i: { projectFile: string; runId: number; step?: number; seed: number }) => `the replay of run ${i.runId}`,
    run: async (i): Promise<EpisodeReplayData> => (await import('../jobs/checkpoint-jobs.ts')).replayRun(i)
  }),
  /** evaluate a run's checkpoint (environment, or offline on held-out traces) */
  evaluate: def({
    what: (i: { projectFile: string; runId: number; step?: number; episodes?: number }) => `the evaluation of run ${i.runId}`,
    run: async (i): Promise<RunEvaluation> => (await import('../jobs/checkpoint-jobs.ts')).evaluateRun(i)
  }),
  /** which backends load here and why not, what "auto" picks, the native installs and the GPU */
  probe: def({
    what: () => 'the backend check',
    run: async (): Promise<Omit<BackendStatus, 'install' | 'checkedAt'>> => {
      const b = await import('../engine/backend/index.ts')
      let active: string | null
      try {
        active = await b.initBackend('auto')
      } catch {
        active = null
      }
      const backends = await b.probeBackends()
      const gpu = b.detectGpu(true)
      const native = (['cpu', 'gpu'] as const).map((variant) => {
        const st = b.nativeInstallStatus(variant)
        return { variant, installed: st.installed, detail: st.detail }
      })
      return { active, backends, native, gpu: { present: gpu.present, detail: gpu.detail } }
    }
  }),
  /** build the native backend */
  install: def({
    what: () => 'the native backend install',
    run: async (i: { gpu?: boolean; force?: boolean }, ctx): Promise<{ dir: string; skipped: boolean; seconds: number }> => {
      const { installNative } = await import('../engine/backend/install.ts')
      const r = await installNative({ gpu: i.gpu, force: i.force, onProgress: (p) => ctx.step({ step: p.step, total: p.total, label: p.label, fraction: p.fraction, message: p.message }) })
      return { dir: r.dir, skipped: r.skipped, seconds: r.seconds }
    }
  })
}

type Jobs = typeof JOBS
export type JobName = keyof Jobs
export type JobInput<N extends JobName> = Parameters<Jobs[N]['run']>[0]
export type JobResult<N extends JobName> = Awaited<ReturnType<Jobs[N]['run']>>

/** What the worker sends back. */
export type JobMessage<N extends JobName = JobName> =
  { type: 'progress'; done: number; total: number } | { type: 'step'; step: InstallStep } | { type: 'done'; result: JobResult<N> } | { type: 'error'; message: string }

/** What the worker is started with (its workerData). */
export interface JobRequest<N extends JobName = JobName> {
  job: N
  input: JobInput<N>
}
