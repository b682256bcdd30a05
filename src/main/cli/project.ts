// Which project a command works on (--project FILE, else ./project.iwsft in the current folder,
// created with the built-in datasets on first use), and the services on it: the command line
// calls the same contract as the app (src/shared/contract.ts), so the same rules apply.
import { existsSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { ApiError, type WireError } from '../../shared/contract.ts'
import { ensureBuiltinDatasets } from '../jobs/builtin-datasets.ts'
import { createServices, type Services, type ServicesOptions } from '../services/index.ts'
import { openProject } from '../store/index.ts'
import type { ProjectStore } from '../store/types.ts'
import { strFlag, UsageError, type Args } from './args.ts'

const DEFAULT_PROJECT = 'project.iwsft'

export function projectPath(args: Args): string {
  return resolve(strFlag(args, 'project') ?? DEFAULT_PROJECT)
}

/** The project store itself, for the engine tools that work on it directly (reproduce). */
export async function openProjectFor(args: Args): Promise<ProjectStore> {
  const store = openProject(projectPath(args))
  await ensureBuiltinDatasets(store)
  return store
}

/** Run `f` with the services on the command's project (`created`: this command made the file);
 *  they are shut down afterwards. `extra`: further options of the services (launch's trainer command). */
export async function withServices<T>(args: Args, f: (s: Services, created: boolean) => Promise<T>, extra: Partial<ServicesOptions> = {}): Promise<T> {
  const file = projectPath(args)
  const created = !existsSync(file)
  const services = await createServices({ ...extra, projectFile: file, transport: 'cli' })
  try {
    // a damaged file opens read-only: say so before anything else
    const { damage } = await services.call('project.info', {})
    if (damage) process.stderr.write(`warning: ${damage}\n`)
    return await f(services, created)
  } finally {
    await services.shutdown()
  }
}

/** Remove a project file this command created (with its WAL files), once its services are shut
 *  down: a command refused for bad input leaves no new project behind. */
export function discardProject(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true })
}

/** `p`, with an ApiError of one of `codes` turned into a usage error (exit 2) with the same message. */
export async function usageOn<T>(codes: WireError['code'][], p: Promise<T>): Promise<T> {
  try {
    return await p
  } catch (e) {
    if (e instanceof ApiError && codes.includes(e.code)) throw new UsageError(e.message)
    throw e
  }
}

/** The run a command names: a whole number naming a run of the project (else a usage error). */
export async function runArg(s: Services, v: string | undefined, usage: string): Promise<number> {
  const id = Number(v)
  if (!v || !Number.isInteger(id)) throw new UsageError(usage)
  try {
    await s.call('runs.get', { runId: id })
  } catch (e) {
    if (e instanceof ApiError && (e.code === 'not_found' || e.code === 'invalid_input')) throw new UsageError(`no run ${id} in ${s.projectFile}; \`iwsft runs\` lists them`)
    throw e
  }
  return id
}

/** A file the command would replace: say how to allow it on the command line. */
export async function refuseOverwrite<T>(p: Promise<T>): Promise<T> {
  try {
    return await p
  } catch (e) {
    if (e instanceof ApiError && e.code === 'exists')
      throw new Error(`${e.issues[0]?.path ?? e.message} already exists; pass overwrite (--overwrite on the command line) to replace it`, { cause: e })
    throw e
  }
}
