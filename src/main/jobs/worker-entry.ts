// Entry of a training worker (worker_threads under Node; the same file is bundled for the
// desktop app). It opens the project itself — SQLite in WAL mode lets the UI read while the
// worker writes — runs one job and streams its events to the parent.
import { parentPort, workerData } from 'node:worker_threads'
import { resolveConfig } from '../../shared/config.ts'
import { openProject } from '../store/index.ts'
import { executeRun } from './execute-run.ts'
import type { RunEvent } from './types.ts'

export interface WorkerInput {
  projectFile: string
  config: unknown
}

export type WorkerMessage = RunEvent | { type: 'error'; message: string }

async function main(): Promise<void> {
  if (!parentPort) throw new Error('worker-entry must run as a worker')
  const port = parentPort
  const input = workerData as WorkerInput
  const abort = new AbortController()
  port.on('message', (m: { type?: string }) => {
    if (m?.type === 'cancel') abort.abort()
  })
  const post = (m: WorkerMessage): void => port.postMessage(m)
  let store: ReturnType<typeof openProject> | null = null
  let started = false
  try {
    const config = resolveConfig(input.config)
    store = openProject(input.projectFile)
    await executeRun(store, config, {
      signal: abort.signal,
      onEvent: (e) => {
        if (e.type === 'start') started = true
        post(e)
      }
    })
  } catch (e) {
    // an error before the run row exists is an input error: report it, nothing was written
    if (!started) post({ type: 'error', message: e instanceof Error ? e.message : String(e) })
    else throw e
  } finally {
    store?.close()
    port.close()
  }
}

void main()
