// The back end's side of the model worker (model-worker.ts): starts it on the first request,
// sends operations, streams their progress, and cancels them. The worker keeps the last model it
// loaded; it is held open only while a request is pending (an idle worker does not keep the
// command line from exiting). If the worker dies, its pending requests fail and the next request
// starts a new one.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { FromWorker, ModelOp, ModelOps, ToWorker } from './model-worker.ts'

/** From the TypeScript sources the tsx bootstrap loads the entry (as for the training worker);
 *  the app's bundle has model-worker.js beside it (electron.vite.config.ts). */
function workerTarget(): { url: URL; entryUrl?: string } {
  const here = import.meta.url
  if (here.endsWith('.ts')) return { url: new URL('./worker-bootstrap.mjs', here), entryUrl: new URL('./model-worker.ts', here).href }
  const bundled = new URL('./model-worker.js', here)
  if (!existsSync(fileURLToPath(bundled))) throw new Error(`the model worker is not at ${fileURLToPath(bundled)}; rebuild the app (npm run build)`)
  return { url: bundled }
}

export interface ModelRequest<T> {
  done: Promise<T>
  cancel(): void
}

export interface RequestOptions {
  onProgress?: (phase: string, done: number, total: number, tokensPerSecond?: number) => void
  /** buffers to move to the worker instead of copying (a dataset's arrays) */
  transfer?: ArrayBuffer[]
}

interface Pending {
  resolve(v: unknown): void
  reject(e: Error): void
  onProgress?: RequestOptions['onProgress']
}

export class ModelHost {
  private worker: Worker | null = null
  private readonly pending = new Map<number, Pending>()
  private next = 1

  request<O extends ModelOp>(op: O, input: ModelOps[O]['input'], opts: RequestOptions = {}): ModelRequest<ModelOps[O]['result']> {
    const w = this.ensure()
    const id = this.next++
    const done = new Promise<ModelOps[O]['result']>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress: opts.onProgress })
    })
    w.ref()
    w.postMessage({ type: 'run', id, op, input } satisfies ToWorker, opts.transfer ?? [])
    return { done, cancel: () => this.worker?.postMessage({ type: 'cancel', id } satisfies ToWorker) }
  }

  /** stop the worker (its loaded model goes with it); pending requests fail */
  async close(): Promise<void> {
    const w = this.worker
    this.worker = null
    if (w) await w.terminate()
    this.failAll(new Error('the model worker was stopped'))
  }

  private ensure(): Worker {
    if (this.worker) return this.worker
    const { url, entryUrl } = workerTarget()
    const w = new Worker(url, { workerData: { entryUrl } })
    w.on('message', (m: FromWorker) => {
      const p = this.pending.get(m.id)
      if (!p) return
      if (m.type === 'progress') p.onProgress?.(m.phase, m.done, m.total, m.tokensPerSecond)
      else {
        this.pending.delete(m.id)
        if (this.pending.size === 0) w.unref()
        if (m.type === 'done') p.resolve(m.result)
        else p.reject(new Error(m.message))
      }
    })
    w.on('error', (e) => {
      if (this.worker === w) this.worker = null
      this.failAll(e)
    })
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = null
      this.failAll(new Error(`the model worker stopped (code ${code}) before it finished`))
    })
    w.unref()
    this.worker = w
    return w
  }

  private failAll(e: Error): void {
    const all = [...this.pending.values()]
    this.pending.clear()
    for (const p of all) p.reject(e)
  }
}
