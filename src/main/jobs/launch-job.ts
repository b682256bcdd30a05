// Runs on the Python trainer (issue 18), recorded like engine runs (backend "accelerate"):
//
// startLaunchJob — "accelerate on this machine": the job folder is written under
//   `<project folder>/jobs/<run id>-<slug>/` (the model named by path), the run row created, and
//   `<venv>/bin/torchrun --standalone --nproc_per_node N DIR/trainer/train.py DIR` (or `accelerate
//   launch --config_file FILE --num_processes N …`) started detached in its own process group,
//   its output in DIR/trainer.log. DIR/stream.jsonl is followed (follow-file.ts) into the store
//   (job-stream.ts). Cancel: SIGTERM to the process group (the trainer writes `end` cancelled),
//   SIGKILL after a grace period. A process that exits without an `end` row leaves the run
//   `interrupted` (it was killed, or crashed: the last lines of trainer.log say which).
//
// followJobFolder — a job folder run elsewhere (a cluster) and synced back: job.json's job_id
//   finds the run an earlier follow recorded (kept in the run's versions as job_id), else a run
//   row is made. The whole stream is read, then followed until its `end`. A stream that has no
//   `end` yet keeps the run `running` for as long as it is followed, whether it grows or not
//   (a cluster's queue can hold a job for hours); when following stops first (cancel, Ctrl+C,
//   the app closing) the run becomes `interrupted` with a note that `iwsft follow DIR` goes on:
//   a later follow of the same folder continues the same run row (rows are stored idempotently).
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { z } from 'zod'
import { resolveConfig, type RunConfig } from '../../shared/config.ts'
import type { Launcher } from '../../shared/launch.ts'
import type { ProjectStore, RunRow } from '../store/types.ts'
import { followJsonl } from './follow-file.ts'
import { JOB_FORMAT, writeJobFolder, type JobManifest } from './job-folder.ts'
import { shellWord, slugOf } from './launch-plan.ts'
import { StreamIngest } from './job-stream.ts'
import { pythonVenvDir } from './python-env.ts'
import type { RunEndEvent, RunEvent, RunHandle } from './types.ts'
import pkg from '../../../package.json'

export const BACKEND = 'accelerate'

export interface TrainerCommandOptions {
  numProcesses: number
  launcher: Launcher
  /** launcher accelerate: its config file (default DIR/accelerate/ddp.yaml) */
  accelerateConfigFile?: string
  /** replaces the launcher and the trainer script: this argv, with DIR appended (a test's fake
   *  trainer; the real trainer is the default) */
  trainerCommand?: string[]
}

/** The command line that runs the trainer on job folder `dir` (JOB_SPEC "Commands"). */
export function trainerCommandLine(dir: string, o: TrainerCommandOptions, venv = pythonVenvDir()): string[] {
  if (o.trainerCommand?.length) return [...o.trainerCommand, dir]
  const script = join(dir, 'trainer', 'train.py')
  if (o.launcher === 'accelerate')
    return [join(venv, 'bin', 'accelerate'), 'launch', '--config_file', o.accelerateConfigFile ?? join(dir, 'accelerate', 'ddp.yaml'), '--num_processes', String(o.numProcesses), script, dir]
  return [join(venv, 'bin', 'torchrun'), '--standalone', '--nproc_per_node', String(o.numProcesses), script, dir]
}

export interface JobHooks {
  onEvent?: (e: RunEvent) => void
  /** add a completed job's final-model/ as a project model; resolves with the model's name */
  addModel?: (path: string, runName: string) => Promise<string>
  onWarn?: (message: string) => void
  /** stream poll interval (default 250 ms) */
  intervalMs?: number
}

export interface LaunchJobOptions extends TrainerCommandOptions, JobHooks {
  /** SIGTERM → SIGKILL of the process group after this many ms (default 15 000) */
  killGraceMs?: number
}

export interface LaunchJob extends RunHandle {
  /** the job folder and the command, once started */
  started: Promise<{ runId: number; dir: string; command: string }>
}

const runVersions = (extra: Record<string, string>): Record<string, string> => ({ app: pkg.version, platform: `${process.platform}-${process.arch}`, ...extra })

/** The last lines of the trainer's log, for an error message. */
function logTail(file: string, n = 6): string {
  try {
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n')
    return lines.slice(-n).join(' | ')
  } catch {
    return ''
  }
}

/** Start the run of `config` (resolved, a language-model policy) on the Python trainer here. */
export function startLaunchJob(store: ProjectStore, config: RunConfig, o: LaunchJobOptions): LaunchJob {
  const emit = o.onEvent ?? (() => {})
  let child: ChildProcess | null = null
  let cancelRequested = false
  let killTimer: ReturnType<typeof setTimeout> | undefined
  let resolveStarted!: (v: { runId: number; dir: string; command: string }) => void
  let rejectStarted!: (e: unknown) => void
  const started = new Promise<{ runId: number; dir: string; command: string }>((res, rej) => ((resolveStarted = res), (rejectStarted = rej)))

  const cancel = (): void => {
    cancelRequested = true
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return
    try {
      process.kill(-child.pid, 'SIGTERM')
    } catch {
      /* gone already */
    }
    killTimer ??= setTimeout(() => {
      try {
        if (child?.pid) process.kill(-child.pid, 'SIGKILL')
      } catch {
        /* gone already */
      }
    }, o.killGraceMs ?? 15_000)
  }

  const body = async (): Promise<RunEndEvent> => {
    await Promise.resolve() // events go out after the caller holds the handle
    const jobs = join(dirname(store.file), 'jobs')
    mkdirSync(jobs, { recursive: true })
    // the folder is written (everything checked) before the run row exists, then named after it
    const tmp = join(jobs, `.new-${randomUUID()}`)
    const job = await writeJobFolder(store, config, tmp, { mode: 'local', numProcesses: o.numProcesses })
    if (!existsSync(join(tmp, 'trainer', 'train.py')) && !o.trainerCommand?.length) {
      rmSync(tmp, { recursive: true, force: true })
      throw new Error('the Python trainer (python/trainer/train.py) is not part of this build, so nothing can run on accelerate here')
    }
    let runId: number
    try {
      runId = store.createRun({
        name: job.manifest.name,
        group: config.group ?? null,
        config,
        datasetId: job.manifest.dataset.id,
        dataHash: job.manifest.dataset.hash,
        backend: BACKEND,
        versions: runVersions({ job_id: job.manifest.job_id, launcher: o.trainerCommand?.length ? 'custom' : o.launcher, num_processes: String(o.numProcesses) })
      })
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true })
      throw e
    }
    const dir = join(jobs, `${runId}-${slugOf(job.manifest.name)}`)
    const argv = trainerCommandLine(dir, o)
    const command = argv.map(shellWord).join(' ')
    try {
      renameSync(tmp, dir)
      const run = store.getRun(runId)!
      store.setRunVersions(runId, { ...run.versions, job_dir: dir })
      store.setRunStatus(runId, 'running')
    } catch (e) {
      store.setRunStatus(runId, 'failed', `the job folder could not be put in place: ${(e as Error).message}`)
      throw e
    }
    emit({ type: 'start', runId, backend: BACKEND, total: config.train.steps })
    const ingest = new StreamIngest({ store, runId, dir, totalSteps: config.train.steps, emit, addModel: o.addModel, onWarn: o.onWarn })
    const follower = followJsonl(join(dir, 'stream.jsonl'), (rows) => ingest.push(rows), { intervalMs: o.intervalMs, onError: (e) => o.onWarn?.(e.message) })
    const log = join(dir, 'trainer.log')
    const fd = openSync(log, 'a')
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((res) => {
      const threads = Math.max(1, Math.floor(availableParallelism() / o.numProcesses))
      child = spawn(argv[0], argv.slice(1), {
        cwd: dir,
        detached: true, // its own process group: cancel signals every process of the job
        stdio: ['ignore', fd, fd],
        env: { ...process.env, OMP_NUM_THREADS: String(threads), PYTHONUNBUFFERED: '1' }
      })
      child.on('error', (error) => res({ code: null, signal: null, error }))
      child.on('exit', (code, signal) => res({ code, signal }))
    })
    resolveStarted({ runId, dir, command })
    if (cancelRequested) cancel()
    const how = await exited
    closeSync(fd)
    clearTimeout(killTimer)
    // what the trainer wrote before it went
    await follower.poll()
    follower.stop()
    await ingest.settled()
    if (ingest.ended) return ingest.ended
    const tail = logTail(log)
    if (cancelRequested) {
      store.setRunStatus(runId, 'cancelled', 'cancelled; the trainer stopped before writing its end')
      const end: RunEndEvent = { type: 'end', runId, status: 'cancelled', final: {} }
      emit(end)
      return end
    }
    const why = how.error
      ? `the trainer could not start (${how.error.message}): ${command}`
      : `the trainer's processes ended (${how.signal ? `signal ${how.signal}` : `exit code ${how.code}`}) without the stream's end${tail ? `; trainer.log: ${tail}` : ''}`
    store.setRunStatus(runId, 'interrupted', why)
    const end: RunEndEvent = { type: 'end', runId, status: 'failed', error: `interrupted: ${why}`, final: {} }
    emit(end)
    return end
  }

  const done = body()
  done.catch((e: unknown) => rejectStarted(e))
  const runId = started.then((s) => s.runId)
  runId.catch(() => {})
  return { runId, started, cancel, done }
}

// ---- following a job folder ----

const ManifestSchema = z.looseObject({
  format: z.literal(JOB_FORMAT),
  job_id: z.string().min(1).max(200),
  name: z.string().min(1).max(400),
  seed: z.number().int().min(0),
  total_steps: z.number().int().min(1),
  dataset: z.looseObject({ id: z.number().int().optional(), name: z.string().optional(), hash: z.string().min(1).max(200) })
})

/** job.json and config.json of a job folder, validated; errors name the file and the field. */
export function readJobFolder(dir: string): { manifest: JobManifest; config: RunConfig } {
  const read = (name: string): unknown => {
    const f = join(dir, name)
    let text: string
    try {
      text = readFileSync(f, 'utf8')
    } catch (e) {
      throw new Error(`${f}: cannot read it (${(e as NodeJS.ErrnoException).code ?? e}); is ${dir} a job folder (iwsft launch --emit)?`, { cause: e })
    }
    try {
      return JSON.parse(text)
    } catch (e) {
      throw new Error(`${f}: not valid JSON (${(e as Error).message})`, { cause: e })
    }
  }
  const m = ManifestSchema.safeParse(read('job.json'))
  if (!m.success) {
    const i = m.error.issues[0]
    throw new Error(`${join(dir, 'job.json')}: field "${i.path.join('.')}": ${i.message}`)
  }
  let config: RunConfig
  try {
    config = resolveConfig(read('config.json') as Record<string, unknown>, join(dir, 'config.json'))
  } catch (e) {
    throw new Error(`${join(dir, 'config.json')}: ${(e as Error).message}`, { cause: e })
  }
  return { manifest: m.data as unknown as JobManifest, config }
}

/** The run an earlier launch or follow recorded for this job (its versions keep the job id). */
export function findRunByJobId(store: ProjectStore, jobId: string): RunRow | null {
  return store.listRuns().find((r) => r.versions.job_id === jobId) ?? null
}

export interface FollowJob extends RunHandle {
  /** after the stream so far is read: the run, whether this follow made it, its status */
  ready: Promise<{ runId: number; created: boolean; status: string }>
}

/** Record (first time) and follow the job folder `dir` (see the file's header). */
export function followJobFolder(store: ProjectStore, dirIn: string, o: JobHooks = {}): FollowJob {
  const emit = o.onEvent ?? (() => {})
  const dir = resolve(dirIn)
  let stop: (() => void) | null = null
  let stopRequested = false
  let resolveReady!: (v: { runId: number; created: boolean; status: string }) => void
  let rejectReady!: (e: unknown) => void
  const ready = new Promise<{ runId: number; created: boolean; status: string }>((res, rej) => ((resolveReady = res), (rejectReady = rej)))

  const body = async (): Promise<RunEndEvent> => {
    await Promise.resolve()
    const { manifest, config } = readJobFolder(dir)
    store.markInterrupted() // a run left 'running' by a process that has gone since the project opened
    const earlier = findRunByJobId(store, manifest.job_id)
    if (earlier?.status === 'running') {
      // its launch or follow is alive in another process, which records it: two would race
      throw new Error(`run ${earlier.id} ("${earlier.name}") of this job folder is being recorded by another process of the workbench; follow it there, or once that process has stopped`)
    }
    const dataset = store.listDatasets().find((d) => d.hash === manifest.dataset.hash)
    const runId =
      earlier?.id ??
      store.createRun({
        name: manifest.name,
        group: config.group ?? null,
        config,
        datasetId: dataset?.id ?? null,
        dataHash: manifest.dataset.hash,
        backend: BACKEND,
        versions: runVersions({ job_id: manifest.job_id, job_dir: dir, followed: 'true' })
      })
    if (earlier && earlier.status !== 'interrupted' && earlier.status !== 'queued') {
      // it ended: nothing more will come
      resolveReady({ runId, created: false, status: earlier.status })
      return { type: 'end', runId, status: earlier.status === 'completed' || earlier.status === 'cancelled' ? earlier.status : 'failed', final: {} }
    }
    store.setRunStatus(runId, 'running')
    emit({ type: 'start', runId, backend: BACKEND, total: manifest.total_steps })
    const ingest = new StreamIngest({ store, runId, dir, totalSteps: manifest.total_steps, emit, addModel: o.addModel, onWarn: o.onWarn })
    let wake: () => void = () => {}
    const follower = followJsonl(
      join(dir, 'stream.jsonl'),
      (rows) => {
        ingest.push(rows)
        void ingest.settled().then(() => ingest.ended && wake())
      },
      { intervalMs: o.intervalMs, onError: (e) => o.onWarn?.(e.message) }
    )
    await follower.poll()
    await ingest.settled()
    resolveReady({ runId, created: !earlier, status: store.getRun(runId)?.status ?? 'running' })
    if (!ingest.ended && !stopRequested) await new Promise<void>((res) => ((wake = res), (stop = res)))
    follower.stop()
    await ingest.settled()
    if (ingest.ended) return ingest.ended
    const why = `stopped following ${dir} before its stream ended; \`iwsft follow ${shellWord(dir)}\` continues this run`
    store.setRunStatus(runId, 'interrupted', why)
    const end: RunEndEvent = { type: 'end', runId, status: 'cancelled', error: why, final: {} }
    emit(end)
    return end
  }

  const done = body()
  done.catch((e: unknown) => rejectReady(e))
  const runId = ready.then((r) => r.runId)
  runId.catch(() => {})
  return {
    runId,
    ready,
    cancel: () => {
      stopRequested = true
      stop?.()
    },
    done
  }
}
