// project.recover: copy what can be read of the open project (a damaged file, opened read-only)
// into a new project file (store/recover.ts does the copying). From the app the new file goes in
// the project's own folder; the command line (transport 'cli') may name any path.
import { dirname, isAbsolute, relative, resolve } from 'node:path'
import { ApiError, type Handlers } from '../../shared/contract.ts'
import { recoverProject } from '../store/recover.ts'
import type { ServiceContext } from './context.ts'

export function recoverHandlers(ctx: ServiceContext): Pick<Handlers, 'project.recover'> {
  return {
    'project.recover': async ({ out }) => {
      const folder = dirname(ctx.store.file)
      const target = resolve(folder, out)
      const rel = relative(folder, target)
      if (ctx.opts.transport !== 'cli' && (rel.startsWith('..') || isAbsolute(rel) || dirname(rel) !== '.')) {
        throw new ApiError(`the recovered project goes beside the damaged one: give a file name in ${folder}, not "${out}"`, 'invalid_input', [
          { path: 'out', message: 'a file name in the project folder' }
        ])
      }
      return recoverProject(ctx.store.file, target)
    }
  }
}
