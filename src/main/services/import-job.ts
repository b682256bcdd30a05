// Start one job of the job map (worker-jobs.ts) in a worker thread and get its result: the
// interface never waits on a parse, and tfjs, MuJoCo or a native library never load in the
// back end's own thread.
import { fileURLToPath } from 'node:url'
import { existsSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import { JOBS, type InstallStep, type JobInput, type JobMessage, type JobName, type JobRequest, type JobResult } from './worker-jobs.ts'

/** From the TypeScript sources, the jobs' tsx bootstrap loads the entry (Node 20 does not apply
 *  `--import tsx` to worker threads); the app's bundle has import-worker.js beside it
 *  (electron.vite.config.ts builds it). */
function workerTarget(): { url: URL; entryUrl?: string } {
  const here = import.meta.url
  if (here.endsWith('.ts')) return { url: new URL('../jobs/worker-bootstrap.mjs', here), entryUrl: new URL('./import-worker.ts', here).href }
  const bundled = new URL('./import-worker.js', here)
  if (!existsSync(fileURLToPath(bundled))) throw new Error(`the services worker is not at ${fileURLToPath(bundled)}; rebuild the app (npm run build)`)
  return { url: bundled }
}

export interface JobCallbacks {
  onProgress?: (done: number, total: number) => void
  onStep?: (step: InstallStep) => void
}

export function runInWorker<N extends JobName>(job: N, input: JobInput<N>, cb: JobCallbacks = {}): Promise<JobResult<N>> {
  const what = (JOBS[job].what as (i: JobInput<N>) => string)(input)
  const { url, entryUrl } = workerTarget()
  const request: JobRequest<N> = { job, input }
  return new Promise<JobResult<N>>((resolve, reject) => {
    const worker = new Worker(url, { workerData: { ...request, entryUrl } })
    let settled = false
    worker.on('message', (m: JobMessage<N>) => {
      if (m.type === 'progress') cb.onProgress?.(m.done, m.total)
      else if (m.type === 'step') cb.onStep?.(m.step)
      else if (m.type === 'done') {
        settled = true
        resolve(m.result)
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
