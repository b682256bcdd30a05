// The contract's handlers (src/shared/contract.ts), in plain Node: no electron here. One
// Services object owns the open project store and the jobs it started; both shells (Electron
// IPC and `iwsft serve`) and the tests call `call(name, input)`, which validates the input
// with the contract's schema before a handler sees it.
import { existsSync, statSync } from 'node:fs'
import { basename, extname, join, resolve, sep } from 'node:path'
import { ConfigError, METHOD_LABELS, resolveConfig, type Method, type RunConfig } from '../../shared/config.ts'
import {
  ApiError,
  isRequestName,
  parseInput,
  type Capabilities,
  type DatasetColumns,
  type DatasetInfo,
  type EventName,
  type EventPayloads,
  type FieldIssue,
  type Handlers,
  type LiveProgress,
  type RequestName,
  type RequestOutput,
  type RunInfo,
  type BackendInstallProgress,
  type BackendStatus,
  type EpisodeReplayData,
  type ReportFile,
  type TraceDetail,
  type TraceRho
} from '../../shared/contract.ts'
import { ExportExistsError, ExportPathError } from '../export/atomic.ts'
import { exportCheckpoint } from '../export/checkpoint-export.ts'
import { buildReport, chromiumPrinter, csvFiles, renderHtml, renderMarkdown, renderPdf, reportFormatOf, writeCsvs, writeReport, type HtmlPrinter } from '../report/index.ts'
import { histogram, minMax } from '../../shared/weight-stats.ts'
import { DatasetError, maskedLength, validateDataset, type TraceDataset } from '../common/trace.ts'
import { byoInspect, byoTraceRho, followByo, importByo, type ByoFollowHandle } from './byo-service.ts'
import { getBuiltin, listBuiltins } from '../engine/datasets/builtin.ts'
import { ensureBuiltinDatasets } from '../jobs/builtin-datasets.ts'
import * as runner from '../jobs/runner.ts'
import type { RunEvent, RunHandle } from '../jobs/types.ts'
import { openProject } from '../store/index.ts'
import type { DatasetSummary, ProjectStore, RunRow } from '../store/types.ts'
import { importInWorker, installNativeInWorker, makeBuiltinInWorker, probeBackendsInWorker, replayInWorker, traceRhoInWorker } from './import-job.ts'
import { memoryRecentList, type RecentList } from './recent.ts'

export interface ServicesOptions {
  /** the project to open first (created when missing, with the built-in datasets) */
  projectFile: string
  transport: 'ipc' | 'http'
  recent?: RecentList
  dialogs?: boolean
  /** files under this folder are uploads: their source is recorded as "upload:NAME" */
  uploadDir?: string
  /** what happens to running jobs when the window (or server) closes */
  onClose?: string
  /** turns report HTML into PDF (the desktop passes one on Electron's printToPDF); default headless Chromium */
  printer?: HtmlPrinter
}

type Listener = <E extends EventName>(event: E, payload: EventPayloads[E]) => void

export const IMPORT_FORMATS = ['.jsonl', '.ndjson', '.csv', '.parquet', '.h5', '.hdf5', '.traces.json']

export interface Services {
  readonly handlers: Handlers
  /** validate `input` against the contract and run the handler */
  call(name: string, input: unknown): Promise<unknown>
  /** subscribe to every event; returns an unsubscribe function */
  subscribe(listener: Listener): () => void
  readonly projectFile: string
  activeRuns(): number[]
  /** cancel every running job and wait (at most `timeoutMs`) for them to end */
  shutdown(timeoutMs?: number): Promise<void>
}

const toDatasetInfo = (d: DatasetSummary): DatasetInfo => ({ ...d })

export async function createServices(opts: ServicesOptions): Promise<Services> {
  const recent = opts.recent ?? memoryRecentList()
  let store: ProjectStore = await openWithBuiltins(opts.projectFile)
  recent.add(store.file)
  const listeners = new Set<Listener>()
  const emit: Listener = (event, payload) => {
    for (const l of listeners) {
      try {
        l(event, payload)
      } catch {
        // one broken listener must not stop the others
      }
    }
  }
  const jobs = new Map<number, { handle: RunHandle; live: LiveProgress | null }>()
  // bring your own log-probs: followed logs by the caller's followId; errors name the file, row and field
  const follows = new Map<string, ByoFollowHandle>()
  const stopFollows = async (): Promise<void> => {
    await Promise.all([...follows.values()].map((h) => h.stop().catch(() => {})))
    follows.clear()
  }
  const byo = async <T>(f: () => T | Promise<T>): Promise<T> => {
    try {
      return await f()
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e)
      throw new ApiError(msg, /there is no dataset|out of range/.test(msg) ? 'not_found' : e instanceof DatasetError ? 'invalid_data' : 'failed')
    }
  }
  const datasetCache = new Map<number, TraceDataset>()
  const getDataset = (id: number): TraceDataset => {
    let d = datasetCache.get(id)
    if (!d) {
      if (!store.listDatasets().some((x) => x.id === id)) throw new ApiError(`dataset ${id} is not in the project ${store.file}`, 'not_found')
      d = store.getDataset(id)
      if (datasetCache.size >= 3) datasetCache.delete(datasetCache.keys().next().value!)
      datasetCache.set(id, d)
    }
    return d
  }
  const getRun = (runId: number): RunRow => {
    const r = store.getRun(runId)
    if (!r) throw new ApiError(`run ${runId} is not in the project ${store.file}`, 'not_found')
    return r
  }
  const toRunInfo = (r: RunRow): RunInfo => ({ ...r, live: jobs.get(r.id)?.live ?? null })

  const projectInfo = () => ({ file: store.file, name: basename(store.file, extname(store.file)), recent: recent.list() })

  const forward = (e: RunEvent): void => {
    const job = jobs.get(e.runId)
    if (e.type === 'start') {
      emit('run.start', { runId: e.runId, backend: e.backend, total: e.total })
      emit('project.changed', { what: 'runs' })
    } else if (e.type === 'progress') {
      if (job) job.live = { phase: e.phase, step: e.step, total: e.total, elapsedMs: e.elapsedMs, etaMs: e.etaMs }
      emit('run.progress', { runId: e.runId, phase: e.phase, step: e.step, total: e.total, elapsedMs: e.elapsedMs, etaMs: e.etaMs })
    } else if (e.type === 'metrics') {
      emit('run.metrics', { runId: e.runId, step: e.step, metrics: e.metrics })
    } else if (e.type === 'end') {
      jobs.delete(e.runId)
      emit('run.end', { runId: e.runId, status: e.status, ...(e.error ? { error: e.error } : {}), final: e.final })
      emit('project.changed', { what: 'runs' })
    }
  }

  const startOne = async (config: RunConfig): Promise<number> => {
    let knownId: number | null = null
    const pending: RunEvent[] = []
    const handle = runner.startRun(store.file, config, (e) => {
      if (knownId === null) {
        // events can arrive before the job is registered under its id
        if (e.type === 'start') {
          knownId = e.runId
          jobs.set(e.runId, { handle, live: null })
          forward(e)
          for (const p of pending.splice(0)) forward(p)
        } else pending.push(e)
      } else forward(e)
    })
    handle.done.catch(() => {})
    try {
      return await handle.runId
    } catch (e) {
      throw configError(e)
    }
  }

  // the backend check runs in a worker and is kept until asked again (or an install ends)
  let backendProbe: Promise<Omit<BackendStatus, 'install'>> | null = null
  let install: BackendInstallProgress | null = null
  const probeBackends = (): Promise<Omit<BackendStatus, 'install'>> => {
    if (!backendProbe) {
      const p = probeBackendsInWorker().then((r) => ({ ...(r as Omit<BackendStatus, 'install' | 'checkedAt'>), checkedAt: new Date().toISOString() }))
      p.catch(() => {
        if (backendProbe === p) backendProbe = null
      })
      backendProbe = p
    }
    return backendProbe
  }
  const writeError = (e: unknown): ApiError => {
    if (e instanceof ApiError) return e
    if (e instanceof ExportExistsError) return new ApiError(`${e.path} already exists. Replace it?`, 'exists')
    if (e instanceof ExportPathError) return new ApiError(e.message, 'invalid_input')
    return new ApiError(e instanceof Error ? e.message : String(e), 'failed')
  }
  const reportName = (runIds: number[], ext: string): string => `iwsft-report-${runIds.length === 1 ? `run${runIds[0]}` : `runs-${runIds.slice(0, 6).join('-')}${runIds.length > 6 ? '-etc' : ''}`}.${ext}`

  const handlers: Handlers = {
    'app.capabilities': async () => {
      const caps: Capabilities = {
        transport: opts.transport,
        scoreReference: typeof (runner as Record<string, unknown>).scoreReference === 'function',
        dialogs: opts.dialogs ?? false,
        importFormats: IMPORT_FORMATS,
        onClose: opts.onClose ?? 'Running jobs keep going while the server runs; stopping the server cancels them (what they saved is kept).'
      }
      return caps
    },
    'project.info': async () => projectInfo(),
    'project.open': async ({ file, create }) => {
      if (jobs.size > 0) throw new ApiError(`${jobs.size} run(s) are still going in ${store.file}; cancel them or wait before opening another project`, 'failed')
      const next = await openWithBuiltins(file, create ?? false)
      await stopFollows()
      store.close()
      store = next
      datasetCache.clear()
      recent.add(store.file)
      emit('project.changed', { what: 'project' })
      return projectInfo()
    },

    'datasets.list': async () => store.listDatasets().map(toDatasetInfo),
    'datasets.columns': async ({ datasetId }) => {
      const d = getDataset(datasetId)
      const n = d.offsets.length - 1
      const lengths = new Array<number>(n)
      for (let i = 0; i < n; i++) lengths[i] = maskedLength(d, i)
      const meta = d.meta ? d.meta.map((m) => (m && Object.keys(m).length ? truncate(JSON.stringify(m), 300) : '')) : new Array<string>(n).fill('')
      const cols: DatasetColumns = { id: datasetId, ids: d.ids, scores: Array.from(d.scores), lengths, meta }
      return cols
    },
    'datasets.trace': async ({ datasetId, index }) => traceDetail(getDataset(datasetId), datasetId, index),
    'datasets.import': async ({ path, name, format, mapping, importId }) => {
      const abs = resolve(path)
      let ds: TraceDataset
      try {
        ds = await importInWorker(abs, { format, mapping, name, onProgress: (done, total) => emit('import.progress', { importId, done, total }) })
        validateDataset(ds)
      } catch (e) {
        let msg = e instanceof Error ? e.message : String(e)
        // an upload's temporary path means nothing to the user: name the file they picked
        if (opts.uploadDir && abs.startsWith(resolve(opts.uploadDir) + sep)) msg = msg.split(abs).join(basename(abs))
        // say which file, unless the importer already did
        throw new ApiError(msg.includes(basename(abs)) ? msg : `${basename(abs)}: ${msg}`, 'invalid_data')
      }
      const isUpload = opts.uploadDir && abs.startsWith(resolve(opts.uploadDir) + sep)
      const source = isUpload ? `upload:${name ?? basename(abs)}` : `file:${abs}`
      const { id, created } = store.putDataset(ds, source)
      emit('import.progress', { importId, done: 1, total: 1 })
      emit('project.changed', { what: 'datasets' })
      const info = store.listDatasets().find((x) => x.id === id)!
      return { dataset: toDatasetInfo(info), created }
    },
    'datasets.delete': async ({ datasetId }) => {
      getDataset(datasetId)
      store.deleteDataset(datasetId)
      datasetCache.delete(datasetId)
      emit('project.changed', { what: 'datasets' })
      return { ok: true as const }
    },
    'datasets.builtins': async () => {
      const have = new Set(store.listDatasets().map((d) => d.source))
      return listBuiltins().map((b) => ({ name: b.name, description: b.description, added: have.has(`builtin:${b.name}`) }))
    },
    'datasets.addBuiltin': async ({ name, importId, quick }) => {
      if (!getBuiltin(name)) throw new ApiError(`unknown built-in dataset "${name}"; built-ins: ${listBuiltins().map((b) => b.name).join(', ')}`, 'not_found')
      let ds: TraceDataset
      try {
        ds = await makeBuiltinInWorker(name, quick ? { quick: true } : {}, (done, total) => emit('import.progress', { importId, done, total }))
        validateDataset(ds)
      } catch (e) {
        throw new ApiError(`built-in dataset "${name}": ${e instanceof Error ? e.message : String(e)}`, 'failed')
      }
      const { id, created } = store.putDataset(ds, `builtin:${name}`)
      emit('import.progress', { importId, done: 1, total: 1 })
      emit('project.changed', { what: 'datasets' })
      return { dataset: toDatasetInfo(store.listDatasets().find((x) => x.id === id)!), created }
    },
    'datasets.scoreReference': async ({ datasetId }) => {
      const fn = (runner as Record<string, unknown>).scoreReference as
        | ((file: string, datasetId: number, onEvent: (e: { type: string; step?: number; total?: number; error?: string }) => void) => { done: Promise<unknown> } | Promise<unknown>)
        | undefined
      if (typeof fn !== 'function') throw new ApiError('reference scoring is not available in this version of the engine yet', 'failed')
      getDataset(datasetId)
      const onEvent = (e: { type: string; step?: number; total?: number; error?: string }): void => {
        if (e.type === 'progress') emit('score.progress', { datasetId, done: e.step ?? 0, total: e.total ?? 0, status: 'running' })
      }
      try {
        const r = fn(store.file, datasetId, onEvent)
        const end = (await (r && typeof r === 'object' && 'done' in r ? r.done : r)) as { status?: string; error?: string } | undefined
        // the job's end event says how it went: a failed or cancelled scoring is not a success
        if (end && typeof end === 'object' && end.status && end.status !== 'completed') throw new Error(end.error ?? `reference scoring ${end.status}`)
        emit('score.progress', { datasetId, done: 1, total: 1, status: 'completed' })
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e)
        emit('score.progress', { datasetId, done: 0, total: 1, status: 'failed', error })
        throw new ApiError(error, 'failed')
      }
      return { ok: true as const }
    },

    'presets.list': async ({ datasetId }) => store.listPresets(datasetId),
    'presets.save': async ({ datasetId, name, curation }) => {
      getDataset(datasetId)
      const p = store.savePreset(datasetId, name, curation)
      emit('project.changed', { what: 'presets' })
      return p
    },

    'config.validate': async ({ config }) => {
      try {
        return { ok: true as const, config: resolveFor(store, config) }
      } catch (e) {
        return { ok: false as const, issues: configIssues(e) }
      }
    },
    'runs.list': async () => store.listRuns().map(toRunInfo),
    'runs.get': async ({ runId }) => toRunInfo(getRun(runId)),
    'runs.start': async ({ config, seeds, group }) => {
      // validate every seed's config before anything starts: all or nothing
      const dsName = typeof config.dataset === 'string' ? (store.findDataset(config.dataset)?.name ?? config.dataset) : 'bandit'
      const label = `${METHOD_LABELS[config.method as Method] ?? String(config.method ?? 'run')} · ${dsName}`
      const groupName = group ?? (seeds.length > 1 ? `${label} · ${new Date().toISOString().slice(0, 16).replace('T', ' ')}` : undefined)
      const configs = seeds.map((seed) => {
        try {
          const name = typeof config.name === 'string' && config.name ? `${config.name}${seeds.length > 1 ? ` · seed ${seed}` : ''}` : `${label} · seed ${seed}`
          return resolveFor(store, { ...config, name, seed, ...(groupName ? { group: groupName } : {}) })
        } catch (e) {
          throw configError(e)
        }
      })
      // the seeds start together (each in its own worker); ids come back in seed order
      const started = await Promise.allSettled(configs.map((c) => startOne(c)))
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      const runIds = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
      if (failed) {
        // all or nothing: stop the seeds that did start, and say why the others did not
        for (const id of runIds) jobs.get(id)?.handle.cancel()
        throw failed.reason
      }
      return { runIds, group: groupName ?? null }
    },
    'runs.cancel': async ({ runId }) => {
      getRun(runId)
      const job = jobs.get(runId)
      if (!job) throw new ApiError(`run ${runId} is not running here, so there is nothing to cancel`, 'failed')
      job.handle.cancel()
      return { ok: true as const }
    },
    'runs.delete': async ({ runId }) => {
      getRun(runId)
      if (jobs.has(runId)) throw new ApiError(`run ${runId} is still going; cancel it before deleting it`, 'failed')
      store.deleteRun(runId)
      emit('project.changed', { what: 'runs' })
      return { ok: true as const }
    },
    'runs.metrics': async ({ runIds, keys }) =>
      runIds.map((runId) => {
        getRun(runId)
        const series: Record<string, { steps: number[]; values: number[] }> = {}
        for (const p of store.getMetrics(runId, keys)) {
          const s = (series[p.key] ??= { steps: [], values: [] })
          s.steps.push(p.step)
          s.values.push(p.value)
        }
        return { runId, series }
      }),
    'runs.snapshotSteps': async ({ runId }) => {
      getRun(runId)
      return store.listSnapshotSteps(runId)
    },
    'runs.snapshot': async ({ runId, step }) => {
      const run = getRun(runId)
      const snap = store.getWeightSnapshot(runId, step)
      if (!snap) throw new ApiError(`run ${runId} has no weight snapshot at step ${step}; saved steps: ${store.listSnapshotSteps(runId).join(', ') || 'none'}`, 'not_found')
      let scores: number[] = []
      if (run.datasetId !== null) {
        try {
          const ds = getDataset(run.datasetId)
          scores = Array.from(snap.traceIndex, (i) => ds.scores[i])
        } catch {
          scores = []
        }
      }
      return {
        runId,
        step,
        traceIndex: Array.from(snap.traceIndex),
        logWRaw: Array.from(snap.logWRaw),
        w: Array.from(snap.w),
        clamp: run.config.weights.clamp,
        scores
      }
    },
    'runs.traceRho': async ({ runId, traceIndex, step }) => {
      getRun(runId)
      // θ from the checkpoint nearest the asked step (runs save one every train.checkpoint_every steps)
      const cks = store.listCheckpoints(runId)
      if (!cks.length) {
        if (jobs.has(runId)) throw new ApiError(`run ${runId} has saved no checkpoint yet; per-step ρ needs one (every train.checkpoint_every steps, and at the end)`, 'failed')
        throw new ApiError(`run ${runId} has no checkpoint, so per-step ρ cannot be computed`, 'not_found')
      }
      const target = step ?? Math.max(...cks.map((c) => c.step))
      const nearest = cks.reduce((a, b) => (Math.abs(b.step - target) < Math.abs(a.step - target) ? b : a))
      try {
        return (await traceRhoInWorker(store.file, runId, traceIndex, nearest.step)) as TraceRho
      } catch (e) {
        throw new ApiError(e instanceof Error ? e.message : String(e), 'failed')
      }
    },
    'runs.checkpoints': async ({ runId }) => {
      getRun(runId)
      return store
        .listCheckpoints(runId)
        .map((c) => ({ id: c.id, step: c.step, createdAt: c.createdAt, metrics: c.metrics }))
        .sort((a, b) => a.step - b.step)
    },
    'runs.export': async ({ runId, step, format, outDir, overwrite }) => {
      getRun(runId)
      if (!store.listCheckpoints(runId).length) throw new ApiError(`run ${runId} has no checkpoint to export yet`, 'not_found')
      try {
        const r = await exportCheckpoint(store, runId, { step, format, outDir: resolve(outDir), overwrite: overwrite ?? false })
        return { runId, step: r.step, format, files: r.files }
      } catch (e) {
        throw writeError(e)
      }
    },
    'reports.make': async ({ runIds, format, out, overwrite }) => {
      for (const id of runIds) getRun(id)
      const printer = opts.printer ?? chromiumPrinter()
      try {
        if (out) {
          let target = resolve(out)
          if (format === 'csv') return { written: await writeCsvs(store, runIds, target, { overwrite: overwrite ?? false }), files: [] }
          // a folder: the report goes inside it; a name without the right extension gets it
          if (existsSync(target) && statSync(target).isDirectory()) target = join(target, reportName(runIds, format))
          else if (reportFormatOf(target) !== format) target = `${target}.${format}`
          return { written: [await writeReport(store, runIds, target, { overwrite: overwrite ?? false, printer })], files: [] }
        }
        if (format === 'csv') {
          const files: ReportFile[] = csvFiles(store, runIds).map((f) => ({ name: f.name, content: typeof f.content === 'string' ? f.content : Buffer.from(f.content as Uint8Array).toString('utf8'), encoding: 'utf8', mime: 'text/csv' }))
          return { written: [], files }
        }
        const data = buildReport(store, runIds)
        if (format === 'pdf') {
          const pdf = await renderPdf(data, printer)
          return { written: [], files: [{ name: reportName(runIds, 'pdf'), content: Buffer.from(pdf).toString('base64'), encoding: 'base64', mime: 'application/pdf' }] }
        }
        const text = format === 'html' ? renderHtml(data) : renderMarkdown(data)
        return { written: [], files: [{ name: reportName(runIds, format), content: text, encoding: 'utf8', mime: format === 'html' ? 'text/html' : 'text/markdown' }] }
      } catch (e) {
        throw writeError(e)
      }
    },
    'runs.replay': async ({ runId, step, seed }) => {
      const run = getRun(runId)
      const ds = run.datasetId !== null ? store.listDatasets().find((d) => d.id === run.datasetId) : undefined
      if (ds && ds.kind !== 'continuous') throw new ApiError(`run ${runId} trained on ${ds.name} (${ds.kind} data); episodes can be replayed for control runs only`, 'invalid_input')
      if (!store.listCheckpoints(runId).length) throw new ApiError(`run ${runId} has no checkpoint yet; replay plays a saved policy`, 'not_found')
      try {
        return (await replayInWorker(store.file, runId, step, seed ?? 0)) as EpisodeReplayData
      } catch (e) {
        throw new ApiError(e instanceof Error ? e.message : String(e), 'failed')
      }
    },
    'backend.status': async ({ refresh }) => {
      if (refresh && !(install?.status === 'running')) backendProbe = null
      try {
        return { ...(await probeBackends()), install }
      } catch (e) {
        throw new ApiError(`could not check the backends: ${e instanceof Error ? e.message : String(e)}`, 'failed')
      }
    },
    'backend.install': async ({ gpu, force }) => {
      if (install?.status === 'running') throw new ApiError(`an install of the native ${install.gpu ? 'GPU' : 'CPU'} backend is already running (step ${install.step} of ${install.total})`, 'failed')
      const g = gpu ?? false
      install = { step: 0, total: 6, label: 'starting', status: 'running', gpu: g }
      emit('backend.install', install)
      installNativeInWorker({ gpu: g, force }, (p) => {
        install = { step: p.step, total: p.total, label: p.label, ...(p.fraction !== undefined ? { fraction: p.fraction } : {}), ...(p.message ? { message: p.message } : {}), status: 'running', gpu: g }
        emit('backend.install', install)
      }).then(
        (r) => {
          const res = r as { dir: string; skipped: boolean; seconds: number }
          install = { step: install?.total ?? 6, total: install?.total ?? 6, label: 'done', message: res.skipped ? `already installed and verified in ${res.dir}; nothing to build` : `installed and verified in ${res.dir} (${res.seconds.toFixed(0)} s)`, status: 'completed', gpu: g }
          backendProbe = null
          emit('backend.install', install)
        },
        (e: unknown) => {
          install = { ...(install ?? { step: 0, total: 6, label: 'starting', gpu: g }), status: 'failed', error: e instanceof Error ? e.message : String(e) }
          emit('backend.install', install)
        }
      )
      return { started: true as const }
    },
    'runs.heatmap': async ({ runId, bins }) => {
      getRun(runId)
      const steps = store.listSnapshotSteps(runId)
      const snaps = steps.map((s) => store.getWeightSnapshot(runId, s)!.logWRaw)
      let lo = Infinity
      let hi = -Infinity
      for (const x of snaps) {
        const [a, b] = minMax(x)
        if (Number.isFinite(a)) lo = Math.min(lo, a)
        if (Number.isFinite(b)) hi = Math.max(hi, b)
      }
      const nb = bins ?? 40
      if (!Number.isFinite(lo)) return { runId, steps, edges: [], counts: steps.map(() => []) }
      const hists = snaps.map((x) => histogram(x, nb, lo, hi))
      return { runId, steps, edges: hists[0]?.edges ?? [], counts: hists.map((h) => h.counts) }
    },

    'byo.import': ({ path, ...o }) =>
      byo(async () => {
        const r = await importByo(store, path, o)
        emit('project.changed', { what: 'datasets' })
        return r
      }),
    'byo.inspect': (input) => byo(() => byoInspect(store, input)),
    'byo.traceRho': (input) => byo(() => byoTraceRho(store, input)),
    'byo.follow': async ({ followId, path, ...o }) => {
      if (follows.has(followId)) throw new ApiError(`"${followId}" is already following a file; unfollow it first`, 'failed')
      let errors: string[] = []
      const h = followByo(store, path, { ...o, onError: (m) => void (errors = [...errors, m].slice(-5)) }, (u) => {
        emit('byo.update', { followId, ...u, ...(errors.length ? { errors } : {}) })
        errors = []
        emit('project.changed', { what: 'datasets' })
      })
      follows.set(followId, h)
      return { ok: true as const }
    },
    'byo.unfollow': async ({ followId }) => {
      await follows.get(followId)?.stop()
      follows.delete(followId)
      return { ok: true as const }
    }
  }

  const call = async (name: string, input: unknown): Promise<unknown> => {
    if (!isRequestName(name)) throw new ApiError(`unknown request "${name}"`, 'not_found')
    const parsed = parseInput(name, input)
    const h = handlers[name] as (i: unknown) => Promise<RequestOutput<RequestName>>
    return h(parsed)
  }

  return {
    handlers,
    call,
    subscribe: (l) => {
      listeners.add(l)
      return () => listeners.delete(l)
    },
    get projectFile() {
      return store.file
    },
    activeRuns: () => [...jobs.keys()],
    shutdown: async (timeoutMs = 3000) => {
      const pending = [...jobs.values()].map((j) => {
        j.handle.cancel()
        return j.handle.done.catch(() => {})
      })
      await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, timeoutMs))])
      await stopFollows()
      store.close()
    }
  }
}

async function openWithBuiltins(file: string, create = true): Promise<ProjectStore> {
  let store: ProjectStore
  try {
    store = openProject(file, { create })
  } catch (e) {
    throw new ApiError(e instanceof Error ? e.message : String(e), 'failed')
  }
  try {
    await ensureBuiltinDatasets(store)
  } catch (e) {
    store.close()
    throw new ApiError(`${file}: could not add the built-in datasets: ${e instanceof Error ? e.message : String(e)}`, 'failed')
  }
  return store
}

/** resolveConfig picks the domain defaults from the dataset's name unless `domain` is set; a
 *  stored dataset named by id ("3") or by its own name gets the defaults of its kind. */
function resolveFor(store: ProjectStore, config: Record<string, unknown>): RunConfig {
  const name = typeof config.dataset === 'string' ? config.dataset : undefined
  const stored = name && !getBuiltin(name) ? store.findDataset(name) : null
  if (!stored) return resolveConfig(config)
  const domain = stored.source === 'builtin:bandit' ? 'bandit' : stored.kind === 'sequence' ? 'sequence' : 'control'
  return resolveConfig({ domain, ...config })
}

function truncate(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + '…' : s
}


/** resolveConfig's message lists one "path: message" per line after its first line. */
export function configIssues(e: unknown): FieldIssue[] {
  const msg = e instanceof Error ? e.message : String(e)
  const lines = msg.split('\n').slice(1).map((l) => l.trim()).filter(Boolean)
  const issues = lines.map((l) => {
    const k = l.indexOf(': ')
    return k > 0 ? { path: l.slice(0, k), message: l.slice(k + 2) } : { path: '', message: l }
  })
  return issues.length ? issues : [{ path: '', message: msg }]
}

function configError(e: unknown): ApiError {
  if (e instanceof ApiError) return e
  const msg = e instanceof Error ? e.message : String(e)
  if (e instanceof ConfigError) return new ApiError(msg, 'invalid_config', configIssues(e))
  return new ApiError(msg, 'failed')
}

const MAX_STEPS = 2000

function traceDetail(d: TraceDataset, datasetId: number, index: number): TraceDetail {
  const n = d.offsets.length - 1
  if (index >= n) throw new ApiError(`trace ${index} is out of range: the dataset has ${n} traces (0..${n - 1})`, 'not_found')
  const a = d.offsets[index]
  const full = d.offsets[index + 1]
  const b = Math.min(full, a + MAX_STEPS)
  const per = d.kind === 'continuous' ? d.actDim : 1
  const actions: number[][] = []
  const obs: number[][] = []
  for (let s = a; s < b; s++) {
    actions.push(Array.from(d.actions.subarray(s * per, (s + 1) * per)))
    obs.push(d.obsDim ? Array.from(d.obs.subarray(s * d.obsDim, (s + 1) * d.obsDim)) : [])
  }
  return {
    datasetId,
    index,
    id: d.ids[index],
    kind: d.kind,
    score: d.scores[index],
    obsDim: d.obsDim,
    actDim: d.actDim,
    actions,
    obs,
    mask: Array.from(d.mask.subarray(a, b)),
    rewards: d.rewards ? Array.from(d.rewards.subarray(a, b)) : null,
    meta: d.meta?.[index] ?? null,
    truncated: b < full
  }
}
