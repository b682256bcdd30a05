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
  rho?: { projectFile: string; runId: number; traceIndex: number }
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
async function traceRho(q: { projectFile: string; runId: number; traceIndex: number }): Promise<unknown> {
  const { openProject } = await import('../store/index.ts')
  const { initBackend } = await import('../engine/backend/index.ts')
  const { findCheckpoint, loadCheckpoint } = await import('../jobs/checkpoints.ts')
  const { scoreSteps } = await import('../engine/train/trainer.ts')
  const store = openProject(q.projectFile, { readonly: true })
  try {
    const run = store.getRun(q.runId)
    if (!run || run.datasetId === null) throw new Error(`run ${q.runId} has no dataset in ${q.projectFile}`)
    await initBackend(run.config.backend)
    const ck = loadCheckpoint(store, findCheckpoint(store, q.runId))
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
