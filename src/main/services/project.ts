// app.* and project.*: what this back end can do, and which project file it works on.
import { basename, extname } from 'node:path'
import { ApiError, type Capabilities, type Handlers, type ProjectInfo } from '../../shared/contract.ts'
import { ensureBuiltinDatasets } from '../jobs/builtin-datasets.ts'
import { openProject, recoverAdvice } from '../store/index.ts'
import type { ProjectStore } from '../store/types.ts'
import { canonicalPath } from './allowed-paths.ts'
import type { ServiceContext } from './context.ts'
import type { RecentList } from './recent.ts'

export const IMPORT_FORMATS = ['.jsonl', '.ndjson', '.csv', '.parquet', '.h5', '.hdf5', '.traces.json']

const DEFAULT_ON_CLOSE = 'Running jobs keep going while the server runs; stopping the server cancels them (what they saved is kept).'

/** Open (or create) a project file with the cheap built-in datasets in it. */
export async function openWithBuiltins(file: string, create = true): Promise<ProjectStore> {
  const store = openProject(file, { create })
  try {
    // a damaged file is open read-only (store.damage): nothing is added to it
    if (!store.readonly) await ensureBuiltinDatasets(store)
  } catch (e) {
    store.close()
    throw new ApiError(`${file}: could not add the built-in datasets: ${e instanceof Error ? e.message : String(e)}`, 'failed')
  }
  return store
}

export function projectHandlers(ctx: ServiceContext, recent: RecentList): Pick<Handlers, 'app.capabilities' | 'project.info' | 'project.open'> {
  const info = (): ProjectInfo => ({
    file: ctx.store.file,
    name: basename(ctx.store.file, extname(ctx.store.file)),
    recent: recent.list(),
    ...(ctx.store.damage ? { damage: `${ctx.store.damage}; ${recoverAdvice(ctx.store.file)}` } : {})
  })
  return {
    'app.capabilities': async () => {
      const caps: Capabilities = {
        transport: ctx.opts.transport,
        dialogs: ctx.opts.dialogs ?? false,
        importFormats: IMPORT_FORMATS,
        onClose: ctx.opts.onClose ?? DEFAULT_ON_CLOSE
      }
      return caps
    },
    'project.info': async () => info(),
    'project.open': async ({ file, create }) => {
      if (canonicalPath(file) === canonicalPath(ctx.store.file)) return info() // already open here
      if (ctx.jobs.size > 0) throw new ApiError(`${ctx.jobs.size} run(s) are still going in ${ctx.store.file}; cancel them or wait before opening another project`, 'failed')
      const release = ctx.opts.claimProject?.(file)
      let next: ProjectStore
      try {
        next = await openWithBuiltins(file, create ?? false)
      } catch (e) {
        release?.()
        throw e
      }
      await ctx.switchProject(next, release)
      recent.add(ctx.store.file)
      ctx.emit('project.changed', { what: 'project' })
      return info()
    }
  }
}
