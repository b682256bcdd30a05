// Training and reference-scoring jobs on the desktop run in an Electron utilityProcess (a child
// process Chromium manages), not a worker thread: a crash in native TensorFlow then ends that
// job, never the app. Same message protocol as worker threads (src/main/jobs/worker-entry.ts):
// the job's input goes as the first message {type: 'start', input}; 'cancel' stops it.
import { utilityProcess } from 'electron'
import { bundledWorkerPath, setJobSpawner, type JobChannel, type JobSpawner } from '../jobs/runner.ts'
import type { WorkerInput, WorkerMessage } from '../jobs/worker-entry.ts'

export function utilityProcessSpawner(workerPath: string = bundledWorkerPath()): JobSpawner {
  return (input: WorkerInput): JobChannel => {
    const child = utilityProcess.fork(workerPath, [], { serviceName: 'IW-SFT training job', stdio: 'inherit' })
    child.postMessage({ type: 'start', input })
    return {
      on(event: 'message' | 'error' | 'exit', f: (x: never) => void): void {
        if (event === 'message') child.on('message', (m: WorkerMessage) => (f as (m: WorkerMessage) => void)(m))
        else if (event === 'exit') child.on('exit', (code: number) => (f as (c: number) => void)(code))
        else child.on('error', (type: string, location: string) => (f as (e: Error) => void)(new Error(`training process ${type} at ${location}`)))
      },
      postMessage: (m) => child.postMessage(m)
    } as JobChannel
  }
}

/** Call once the app is ready (utilityProcess.fork needs it). */
export function useUtilityProcessJobs(): void {
  setJobSpawner(utilityProcessSpawner())
}
