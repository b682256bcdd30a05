// Which files and folders a request from the app may name (issue 11). The app's back end reads
// and writes where a request says (an import, an export, a report, a project to open, a log to
// follow); a page is not the user, so those paths are confined to
//   - the open project's folder (and everything under it),
//   - the upload folder of this back end,
//   - folders and files the user granted: `iwsft serve --allow-dir DIR`, or a pick in the
//     desktop shell's native dialog (the shell tells the back end over its own channel, which
//     the page cannot reach),
//   - for project.open only, the projects in the recent list (opened before by the user).
// The command line has the user's own rights and creates its services without a policy.
// Symbolic links are followed before the check (a link inside the project's folder to /etc is
// refused); a path that does not exist yet is checked by its deepest existing ancestor.
import { existsSync, realpathSync } from 'node:fs'
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { ApiError, type RequestName } from '../../shared/contract.ts'

/** Every request input field that names a file or folder on the back end's machine (a unit test
 *  checks that no path-like field of the contract is missing here). */
export const PATH_FIELDS: { readonly [N in RequestName]?: readonly string[] } = {
  'project.open': ['file'],
  'project.recover': ['out'],
  'datasets.import': ['path', 'tokenizerFile'],
  'datasets.preview': ['path'],
  'runs.export': ['outDir'],
  'reports.make': ['out'],
  'byo.import': ['path', 'tokenizerFile'],
  'byo.follow': ['path', 'tokenizerFile'],
  'models.add': ['path'],
  'models.sample': ['file'],
  'launch.plan': ['dir'],
  'launch.start': ['accelerateConfigFile'],
  'launch.emit': ['dir'],
  'launch.follow': ['dir']
}

export interface PathPolicyOptions {
  /** the folders every request may use now (the project's folder follows the open project) */
  roots(): string[]
  /** project files project.open may open wherever they are (the recent list) */
  knownProjects(): string[]
  /** what to tell the user when a path is refused (how to grant a folder on this front end) */
  hint: string
}

export interface PathPolicy {
  /** throw ApiError('forbidden') when a path field of the request lies outside every grant */
  check(name: RequestName, input: unknown): void
  /** let requests use a folder (and everything under it) or a single file */
  grant(path: string, kind: 'dir' | 'file'): void
}

/** The real path of `p`: symbolic links resolved along the longest existing prefix, the rest
 *  (not created yet) appended as written. */
export function canonicalPath(p: string): string {
  const abs = resolve(p)
  const rest: string[] = []
  let cur = abs
  while (!existsSync(cur)) {
    const parent = dirname(cur)
    if (parent === cur) break
    rest.unshift(basename(cur))
    cur = parent
  }
  let real = cur
  try {
    real = realpathSync.native(cur)
  } catch {
    // unreadable: compare as written
  }
  return rest.length ? join(real, ...rest) : real
}

const inside = (dir: string, p: string): boolean => {
  const rel = relative(dir, p)
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))
}

export function createPathPolicy(opts: PathPolicyOptions): PathPolicy {
  const dirs = new Set<string>()
  const files = new Set<string>()
  const allowed = (name: RequestName, p: string): boolean => {
    const real = canonicalPath(p)
    if (files.has(real)) return true
    if (name === 'project.open' && opts.knownProjects().some((f) => canonicalPath(f) === real)) return true
    return [...opts.roots(), ...dirs].some((d) => inside(canonicalPath(d), real))
  }
  return {
    check(name, input) {
      const fields = PATH_FIELDS[name]
      if (!fields || !input || typeof input !== 'object') return
      for (const field of fields) {
        const p = (input as Record<string, unknown>)[field]
        if (typeof p !== 'string' || allowed(name, p)) continue
        const where = [...new Set([...opts.roots(), ...dirs].map((d) => canonicalPath(d)))].join(', ')
        throw new ApiError(`${name}: ${field} "${resolve(p)}" is outside the folders the app may use (${where}); ${opts.hint}`, 'forbidden', [
          { path: field, message: 'outside the folders the app may use' }
        ])
      }
    },
    grant(path, kind) {
      ;(kind === 'dir' ? dirs : files).add(canonicalPath(path))
    }
  }
}
