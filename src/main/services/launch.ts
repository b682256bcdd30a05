// launch.* and python.*: "Run on" (issue 18) — the commands of each choice (launch.plan), the
// Python trainer (TRL + accelerate, python/trainer) started on this machine and followed live
// (launch.start), a self-contained job folder for a cluster (launch.emit), following a job
// folder's stream back into the project (launch.follow), and the trainer's Python environment
// (python.status, python.install). The job folder and the stream are JOB_SPEC's
// (jobs/job-folder.ts, jobs/launch-job.ts).
import { ApiError, type Handlers } from '../../shared/contract.ts'
import { defaultJobDir, launchPlan } from '../jobs/launch-plan.ts'
import { installPythonEnv, pythonStatus } from '../jobs/python-env.ts'
import type { ServiceContext } from './context.ts'
import { resolveFor } from './runs.ts'

type LaunchRequests = 'launch.plan' | 'launch.start' | 'launch.emit' | 'launch.follow' | 'python.status' | 'python.install'

export function launchHandlers(ctx: ServiceContext): Pick<Handlers, LaunchRequests> {
  let installing: AbortController | null = null
  ctx.onProjectClose(() => installing?.abort())
  const notYet = (name: string) => async (): Promise<never> => {
    throw new ApiError(`${name}: not built yet (issue 18)`, 'failed')
  }
  return {
    'launch.plan': async ({ config, source, numProcesses, launcher, dir }) => {
      const resolved = resolveFor(ctx.store, config, source)
      const name = resolved.name ?? `${resolved.method}-${resolved.dataset}-seed-${resolved.seed}`
      return launchPlan({
        config: resolved,
        source,
        projectFile: ctx.store.file,
        numProcesses: numProcesses ?? 1,
        launcher: launcher ?? 'torchrun',
        dir: dir ?? defaultJobDir(ctx.store.file, name),
        python: pythonStatus()
      })
    },
    'launch.start': notYet('launch.start'),
    'launch.emit': notYet('launch.emit'),
    'launch.follow': notYet('launch.follow'),
    'python.status': async () => pythonStatus(),
    'python.install': async ({ force }) => {
      if (installing) throw new ApiError('the Python environment is being made already; wait for its python.install events to end', 'failed')
      installing = new AbortController()
      try {
        return await installPythonEnv({ force, signal: installing.signal, onProgress: (p) => ctx.emit('python.install', p) })
      } finally {
        installing = null
      }
    }
  }
}
