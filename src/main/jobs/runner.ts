// Start a training run in a worker so the caller (the app's main process, the local server)
// never blocks. Events stream back; cancel() asks the worker to stop, which it does at the next
// step (well under a second), keeping what it saved. The worker is a worker_threads Worker of
// the back end's Node process (`iwsft serve`, which the desktop shell also runs, or the CLI).
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { RunConfig } from '../../shared/config.ts'
import { openProject } from '../store/index.ts'
import type { RunEndEvent, RunEvent, RunHandle } from './types.ts'
import type { WorkerInput, WorkerMessage } from './worker-entry.ts'

/** The worker file: the TypeScript source run through tsx (CLI, tests, `iwsft serve`), or a
 *  bundled worker.js beside the runner (a back end bundled for packaging). */
function workerTarget(): { url: URL; entryUrl?: string } {
  const here = import.meta.url
  if (here.endsWith('.ts')) return { url: new URL('./worker-bootstrap.mjs', here), entryUrl: new URL('./worker-entry.ts', here).href }
  const bundled = new URL('./worker.js', here)
  if (!existsSync(fileURLToPath(bundled))) throw new Error(`training worker not found at ${fileURLToPath(bundled)}; rebuild the app (npm run build)`)
  return { url: bundled }
}

function spawnWorker(input: WorkerInput): Worker {
  const { url, entryUrl } = workerTarget()
  return new Worker(url, { workerData: { ...input, entryUrl } })
}

export function startRun(projectFile: string, config: RunConfig | unknown, onEvent: (e: RunEvent) => void): RunHandle {
  return startJob({ job: 'run', projectFile, config }, onEvent)
}

/** Continue an interrupted, cancelled or failed run from its last checkpoint (execute-run.ts resumeRun). */
export function resumeRun(projectFile: string, runId: number, onEvent: (e: RunEvent) => void): RunHandle {
  return startJob({ job: 'resume', projectFile, runId }, onEvent)
}

/** Reference scoring of one dataset in a worker ("score with reference model"): the reference
 *  a run on it would use (domain defaults, overridden by `config`), cached in the project.
 *  Progress events carry runId 0; `done` resolves with status completed or cancelled. */
export function scoreReference(projectFile: string, datasetId: number, onEvent: (e: RunEvent) => void, config: Record<string, unknown> = {}): RunHandle {
  return startJob({ job: 'score', projectFile, datasetId, config }, onEvent)
}

function startJob(input: WorkerInput, onEvent: (e: RunEvent) => void): RunHandle {
  const { projectFile } = input
  const worker = spawnWorker(input)
  let resolveId!: (id: number) => void
  let rejectId!: (e: Error) => void
  const runId = new Promise<number>((res, rej) => ((resolveId = res), (rejectId = rej)))
  runId.catch(() => {}) // the rejection is also delivered through `done`
  const done = new Promise<RunEndEvent>((resolve, reject) => {
    let ended: RunEndEvent | null = null
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'error') {
        const err = new Error(m.message)
        rejectId(err)
        reject(err)
        return
      }
      if (m.type === 'start') resolveId(m.runId)
      if (m.type === 'end') ended = m
      onEvent(m)
    })
    worker.on('error', (e) => {
      rejectId(e)
      reject(e)
    })
    worker.on('exit', (code) => {
      if (ended) resolve(ended)
      else {
        const err = new Error(`training worker exited with code ${code} before the run ended`)
        // a worker thread shares this process's pid, so the store cannot see it died: mark it here
        void runId.then(
          (id) => {
            if (id === 0) return // a scoring job has no run row
            const store = openProject(projectFile)
            try {
              if (store.getRun(id)?.status === 'running') store.setRunStatus(id, 'interrupted', err.message)
            } finally {
              store.close()
            }
          },
          () => {}
        )
        rejectId(err)
        reject(err)
      }
    })
  })
  return {
    runId,
    cancel: () => worker.postMessage({ type: 'cancel' }),
    done
  }
}
