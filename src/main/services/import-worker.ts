// Entry of an import worker (worker_threads): parses a data file off the main thread so the
// interface keeps answering while a large file is read. Posts progress, then the dataset
// (typed arrays are transferred, not copied) or an error message naming the file.
import { parentPort, workerData } from 'node:worker_threads'
import { importDatasetFile } from '../engine/data/import.ts'
import { getBuiltin } from '../engine/datasets/builtin.ts'

export interface ImportWorkerInput {
  /** a data file to import … */
  file?: string
  /** … or a built-in dataset to generate (e.g. "hopper-expert"), with its options */
  builtin?: string
  options?: Record<string, number | string | boolean>
  /** … or per-step ρ of one trace under a run's last checkpoint */
  rho?: { projectFile: string; runId: number; traceIndex: number; step?: number }
  /** … or one episode of a control run's policy */
  replay?: { projectFile: string; runId: number; step?: number; seed: number }
  /** … or which backends load here */
  probe?: boolean
  /** … or build the native backend */
  install?: { gpu?: boolean; force?: boolean }
  format?: string
  mapping?: Record<string, string>
  name?: string
}

async function main(): Promise<void> {
  const port = parentPort
  if (!port) throw new Error('import-worker must run as a worker')
  const input = workerData as ImportWorkerInput
  try {
    let last = 0
    const onProgress = (done: number, total: number): void => {
      const now = Date.now()
      if (now - last < 100 && done < total) return
      last = now
      port.postMessage({ type: 'progress', done, total })
    }
    if (input.rho) {
      port.postMessage({ type: 'done', dataset: await traceRho(input.rho) })
      return
    }
    if (input.replay) {
      port.postMessage({ type: 'done', dataset: await replay(input.replay) })
      return
    }
    if (input.probe) {
      port.postMessage({ type: 'done', dataset: await probe() })
      return
    }
    if (input.install) {
      const { installNative } = await import('../engine/backend/install.ts')
      const r = await installNative({ gpu: input.install.gpu, force: input.install.force, onProgress: (p) => port.postMessage({ type: 'step', progress: { step: p.step, total: p.total, label: p.label, fraction: p.fraction, message: p.message } }) })
      port.postMessage({ type: 'done', dataset: { dir: r.dir, skipped: r.skipped, seconds: r.seconds } })
      return
    }
    let ds
    if (input.builtin) {
      const b = getBuiltin(input.builtin)
      if (!b) throw new Error(`unknown built-in dataset "${input.builtin}"`)
      ds = await b.make(input.options ?? {}, onProgress)
    } else {
      ds = await importDatasetFile(input.file!, { format: input.format, mapping: input.mapping, name: input.name, onProgress })
    }
    const buffers = [ds.offsets, ds.obs, ds.actions, ds.mask, ds.scores, ...(ds.rewards ? [ds.rewards] : [])].map((a) => a.buffer as ArrayBuffer)
    port.postMessage({ type: 'done', dataset: ds }, [...new Set(buffers)])
  } catch (e) {
    port.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) })
  } finally {
    port.close()
  }
}

void main()

/** ρ_t = log π_θ(a_t|s_t) − log π_ref(a_t|s_t) along one trace, θ from the run's last checkpoint
 *  and log π_ref from the project's reference cache (the key the checkpoint recorded). */
async function traceRho(q: { projectFile: string; runId: number; traceIndex: number; step?: number }): Promise<unknown> {
  const { openProject } = await import('../store/index.ts')
  const { initBackend } = await import('../engine/backend/index.ts')
  const { findCheckpoint, loadCheckpoint } = await import('../jobs/checkpoints.ts')
  const { scoreSteps } = await import('../engine/train/scoring.ts')
  const store = openProject(q.projectFile, { readonly: true })
  try {
    const run = store.getRun(q.runId)
    if (!run || run.datasetId === null) throw new Error(`run ${q.runId} has no dataset in ${q.projectFile}`)
    await initBackend(run.config.backend)
    const ck = loadCheckpoint(store, findCheckpoint(store, q.runId, q.step))
    try {
      const ds = store.getDataset(run.datasetId)
      if (q.traceIndex >= ds.offsets.length - 1) throw new Error(`trace ${q.traceIndex} is out of range (${ds.offsets.length - 1} traces)`)
      const ref = ck.spec.refKey && run.dataHash ? store.getRefLogProbs(ck.spec.refKey, run.dataHash) : null
      if (!ref) throw new Error(`run ${q.runId} has no cached reference log-probs (${run.method} does not use π_ref)`)
      const lp = scoreSteps(ck.policy, ds, [q.traceIndex])
      const a = ds.offsets[q.traceIndex]
      const b = ds.offsets[q.traceIndex + 1]
      const mask = Array.from(ds.mask.subarray(a, b))
      const logp = Array.from(lp.subarray(a, b))
      const logref = Array.from(ref.subarray(a, b))
      return { runId: q.runId, traceIndex: q.traceIndex, step: ck.step, rho: logp.map((v, i) => (mask[i] ? v - logref[i] : null)), logp, logref, mask }
    } finally {
      ck.policy.dispose()
    }
  } finally {
    store.close()
  }
}

/** Which backends load here (like `iwsft doctor`), what "auto" picks, the native installs and the GPU. */
async function probe(): Promise<unknown> {
  const b = await import('../engine/backend/index.ts')
  let active: string | null = null
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

/** The task a control run's dataset belongs to: "pendulum-replay" → "pendulum". */
async function replay(q: { projectFile: string; runId: number; step?: number; seed: number }): Promise<unknown> {
  const { openProject } = await import('../store/index.ts')
  const { initBackend } = await import('../engine/backend/index.ts')
  const { findCheckpoint, loadCheckpoint } = await import('../jobs/checkpoints.ts')
  const { replayEpisode } = await import('../engine/eval/control-eval.ts')
  const { listTasks } = await import('../engine/envs/index.ts')
  const store = openProject(q.projectFile, { readonly: true })
  try {
    const run = store.getRun(q.runId)
    if (!run) throw new Error(`run ${q.runId} is not in ${q.projectFile}`)
    const ds = run.datasetId !== null ? store.listDatasets().find((d) => d.id === run.datasetId) : null
    const names = [ds?.source?.replace(/^builtin:/, ''), ds?.name, String(run.config.dataset)].filter((x): x is string => !!x)
    const tasks = listTasks().map((t) => t.name)
    const task = tasks.find((t) => names.some((n) => n === t || n.startsWith(`${t}-`)))
    if (!task) throw new Error(`run ${q.runId} was trained on ${names[0] ?? 'a dataset'}, which belongs to no simulated task (${tasks.join(', ')}); replay needs one`)
    await initBackend(run.config.backend)
    const ck = loadCheckpoint(store, findCheckpoint(store, q.runId, q.step))
    try {
      const r = await replayEpisode(task, ck.policy, { seed: q.seed, deterministic: true })
      const rows = (a: Float32Array, d: number, n: number): number[][] => Array.from({ length: n }, (_, i) => Array.from(a.subarray(i * d, (i + 1) * d)))
      const per = r.geoms.length * 12
      return {
        runId: q.runId,
        step: ck.step,
        task,
        seed: r.seed,
        obsDim: r.obsDim,
        actDim: r.actDim,
        length: r.length,
        ret: r.ret,
        terminated: r.terminated,
        dt: r.dt,
        obs: rows(r.obs, r.obsDim, r.length),
        actions: rows(r.actions, r.actDim, r.length),
        rewards: Array.from(r.rewards),
        geoms: r.geoms,
        poses: rows(r.poses, per, r.length + 1)
      }
    } finally {
      ck.policy.dispose()
    }
  } finally {
    store.close()
  }
}
