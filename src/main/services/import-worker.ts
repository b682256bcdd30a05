// Entry of a services worker (worker_threads): runs ONE job of the job map (worker-jobs.ts) off
// the main thread, so the interface keeps answering while a large file is parsed or a policy is
// reloaded. Posts progress, then the result (large typed arrays are transferred, not copied) or
// an error message.
import { parentPort, workerData } from 'node:worker_threads'
import { JOBS, type JobMessage, type JobName, type JobRequest } from './worker-jobs.ts'

async function main(): Promise<void> {
  const port = parentPort
  if (!port) throw new Error('import-worker must run as a worker')
  const { job, input } = workerData as JobRequest
  const post = (m: JobMessage, transfer: ArrayBuffer[] = []): void => port.postMessage(m, [...new Set(transfer)])
  try {
    let last = 0
    const def = JOBS[job as JobName] as {
      run(i: unknown, ctx: { progress(d: number, t: number): void; step(s: unknown): void }): Promise<unknown>
      transfer?(r: unknown): ArrayBuffer[]
    }
    if (!def) throw new Error(`unknown job "${String(job)}"`)
    const result = await def.run(input, {
      progress: (done, total) => {
        // at most ten a second, and always the last
        const now = Date.now()
        if (now - last < 100 && done < total) return
        last = now
        post({ type: 'progress', done, total })
      },
      step: (step) => post({ type: 'step', step } as JobMessage)
    })
    post({ type: 'done', result } as JobMessage, def.transfer?.(result))
  } catch (e) {
    post({ type: 'error', message: e instanceof Error ? e.message : String(e) })
  } finally {
    port.close()
  }
}

void main()
