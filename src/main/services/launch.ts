// launch.* and python.*: "Run on" (issue 18) — the commands of each choice (launch.plan), the
// Python trainer (TRL + accelerate, python/trainer) started on this machine and followed live
// (launch.start), a self-contained job folder for a cluster (launch.emit), following a job
// folder's stream back into the project (launch.follow), and the trainer's Python environment
// (python.status, python.install). The job folder and the stream are JOB_SPEC's
// (jobs/job-folder.ts, jobs/job-stream.ts, jobs/launch-job.ts). Launched and followed runs are
// run jobs like the engine's (runs.ts trackRun): Live runs shows them and runs.cancel stops them.
import { existsSync } from 'node:fs'
import { ApiError, type Handlers } from '../../shared/contract.ts'
import { jobPolicy, writeJobFolder } from '../jobs/job-folder.ts'
import { findRunByJobId, followJobFolder, readJobFolder, startLaunchJob } from '../jobs/launch-job.ts'
import { clusterRunCommands, defaultJobDir, followCommand, launchPlan } from '../jobs/launch-plan.ts'
import { ModelReferenceError } from '../jobs/model-reference.ts'
import { installPythonEnv, pythonStatus } from '../jobs/python-env.ts'
import type { ServiceContext } from './context.ts'
import { modelHandlers } from './models.ts'
import { resolveFor, trackRun } from './runs.ts'

type LaunchRequests = 'launch.plan' | 'launch.start' | 'launch.emit' | 'launch.follow' | 'python.status' | 'python.install'

/** a model reference that cannot be used: the contract's code for it */
async function modelErrors<T>(p: Promise<T>): Promise<T> {
  try {
    return await p
  } catch (e) {
    throw e instanceof ModelReferenceError ? new ApiError(e.message, e.code) : e
  }
}

export function launchHandlers(ctx: ServiceContext): Pick<Handlers, LaunchRequests> {
  let installing: AbortController | null = null
  ctx.onProjectClose(() => installing?.abort())
  const models = modelHandlers(ctx)
  /** a completed job's final-model/ as a project model named after its run (another name when a
   *  different model has that one; the model already there when it is the same files) */
  const addModel = async (path: string, runName: string): Promise<string> => {
    const names = [runName, ...Array.from({ length: 8 }, (_, i) => `${runName} (${i + 2})`)]
    for (const name of names) {
      try {
        return (await models['models.add']({ path, name })).model.name
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 'exists')) throw e
      }
    }
    throw new ApiError(`every name like "${runName}" is taken by another model; add ${path} with \`iwsft models add\``, 'exists')
  }
  const warn = (m: string): void => console.warn(m)

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
    'launch.start': async ({ config, source, numProcesses, launcher, accelerateConfigFile }) => {
      const resolved = resolveFor(ctx.store, config, source)
      jobPolicy(resolved)
      const custom = ctx.opts.trainerCommand
      if (!custom?.length) {
        const py = pythonStatus()
        if (!py.ready) throw new ApiError(py.problem ?? `the Python environment is not ready; run \`${py.installCommand}\``, 'failed')
      }
      const B = resolved.train.batch_size
      if (B % numProcesses !== 0)
        throw new ApiError(`train.batch_size ${B} is not divisible by ${numProcesses} processes; pick a divisor of ${B}`, 'invalid_input', [
          { path: 'numProcesses', message: `must divide ${B}` }
        ])
      if (accelerateConfigFile && !existsSync(accelerateConfigFile)) throw new ApiError(`accelerate config file ${accelerateConfigFile} is not there`, 'not_found')
      let started: ReturnType<typeof startLaunchJob>['started'] | null = null
      const runId = await modelErrors(
        trackRun(ctx, (onEvent) => {
          const job = startLaunchJob(ctx.store, resolved, { numProcesses, launcher, accelerateConfigFile, trainerCommand: custom, onEvent, addModel, onWarn: warn })
          started = job.started
          return job
        })
      )
      const s = await started!
      return { runId, dir: s.dir, command: s.command }
    },
    'launch.emit': async ({ config, source, dir, overwrite }) => {
      const resolved = resolveFor(ctx.store, config, source)
      const job = await modelErrors(writeJobFolder(ctx.store, resolved, dir, { mode: 'emit', overwrite }))
      return { dir: job.dir, files: job.files, runCommands: clusterRunCommands(job.dir), followCommand: followCommand(job.dir, ctx.store.file) }
    },
    'launch.follow': async ({ dir }) => {
      let manifest
      try {
        manifest = readJobFolder(dir).manifest
      } catch (e) {
        throw new ApiError((e as Error).message, 'invalid_data')
      }
      const earlier = findRunByJobId(ctx.store, manifest.job_id)
      if (earlier && ctx.jobs.has(earlier.id)) throw new ApiError(`run ${earlier.id} ("${earlier.name}") of this job folder is being followed already`, 'failed')
      let ready: ReturnType<typeof followJobFolder>['ready'] | null = null
      await trackRun(ctx, (onEvent) => {
        const job = followJobFolder(ctx.store, dir, { onEvent, addModel, onWarn: warn })
        ready = job.ready
        return job
      })
      return ready!
    },
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
