// Run a dataset import in a worker thread (the interface never waits on a parse). Where the
// worker file is not there (a bundle built without it), the import runs in-process instead.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { TraceDataset } from '../common/trace.ts'

export interface ImportOptions {
  format?: string
  mapping?: Record<string, string>
  name?: string
  onProgress?: (done: number, total: number) => void
}

/** From the TypeScript sources, the jobs' tsx bootstrap loads the entry (Node 20 does not apply
 *  `--import tsx` to worker threads); a bundle uses import-worker.js beside it, if built. */
function workerTarget(): { url: URL; entryUrl?: string } | null {
  const here = import.meta.url
  if (here.endsWith('.ts')) return { url: new URL('../jobs/worker-bootstrap.mjs', here), entryUrl: new URL('./import-worker.ts', here).href }
  const bundled = new URL('./import-worker.js', here)
  return existsSync(fileURLToPath(bundled)) ? { url: bundled } : null
}

export async function importInWorker(file: string, opts: ImportOptions = {}): Promise<TraceDataset> {
  const target = workerTarget()
  if (!target) {
    const { importDatasetFile } = await import('../engine/data/import.ts')
    return importDatasetFile(file, opts)
  }
  return inWorker(target, { file, format: opts.format, mapping: opts.mapping, name: opts.name }, opts.onProgress, file)
}

/** Generate a built-in dataset (control rollouts can take minutes) off the main thread. */
export async function makeBuiltinInWorker(name: string, options: Record<string, number | string | boolean>, onProgress?: (done: number, total: number) => void): Promise<TraceDataset> {
  const target = workerTarget()
  if (!target) {
    const { getBuiltin } = await import('../engine/datasets/builtin.ts')
    const b = getBuiltin(name)
    if (!b) throw new Error(`unknown built-in dataset "${name}"`)
    return b.make(options, onProgress)
  }
  return inWorker(target, { builtin: name, options }, onProgress, name)
}

/** Per-step ρ of one trace, computed in a worker (tfjs never loads in the caller's thread). */
export async function traceRhoInWorker(projectFile: string, runId: number, traceIndex: number, step?: number): Promise<unknown> {
  return inWorker(needTarget('per-step ρ'), { rho: { projectFile, runId, traceIndex, step } }, undefined, `ρ of trace ${traceIndex}`) as Promise<unknown>
}

/** One episode of a control run's policy, played in a worker (MuJoCo and tfjs stay off this thread). */
export async function replayInWorker(projectFile: string, runId: number, step: number | undefined, seed: number): Promise<unknown> {
  return inWorker(needTarget('episode replay'), { replay: { projectFile, runId, step, seed } }, undefined, `the replay of run ${runId}`) as Promise<unknown>
}

/** Which backends load here and why not, plus what "auto" picks; probed in a worker so a
 *  native library never loads into the interface's process. */
export async function probeBackendsInWorker(): Promise<unknown> {
  return inWorker(needTarget('the backend check'), { probe: true }, undefined, 'the backend check') as Promise<unknown>
}

/** Build the native backend in a worker; `onStep` gets every progress report. */
export async function installNativeInWorker(opts: { gpu?: boolean; force?: boolean }, onStep: (p: { step: number; total: number; label: string; fraction?: number; message?: string }) => void): Promise<unknown> {
  return inWorker(needTarget('the native backend install'), { install: opts }, undefined, 'the native backend install', onStep) as Promise<unknown>
}

function needTarget(what: string): { url: URL; entryUrl?: string } {
  const target = workerTarget()
  if (!target) throw new Error(`${what} needs the import worker (import-worker.js), which this build does not have`)
  return target
}

function inWorker(
  target: { url: URL; entryUrl?: string },
  data: Record<string, unknown>,
  onProgress: ((done: number, total: number) => void) | undefined,
  what: string,
  onStep?: (p: { step: number; total: number; label: string; fraction?: number; message?: string }) => void
): Promise<TraceDataset> {
  return new Promise<TraceDataset>((resolve, reject) => {
    const worker = new Worker(target.url, { workerData: { ...data, entryUrl: target.entryUrl } })
    let settled = false
    worker.on('message', (m: { type: string; done?: number; total?: number; dataset?: TraceDataset; message?: string; progress?: { step: number; total: number; label: string; fraction?: number; message?: string } }) => {
      if (m.type === 'step' && m.progress) onStep?.(m.progress)
      else if (m.type === 'progress') onProgress?.(m.done ?? 0, m.total ?? 0)
      else if (m.type === 'done') {
        settled = true
        resolve(m.dataset!)
      } else if (m.type === 'error') {
        settled = true
        reject(new Error(m.message))
      }
    })
    worker.on('error', (e) => {
      settled = true
      reject(e)
    })
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`the import worker stopped (code ${code}) before finishing ${what}`))
    })
  })
}
