// Safe writes for every export (checkpoints, reports, CSV): a file is written to a temporary
// name in the same folder and renamed into place only once it is complete, so a crash or an
// error mid-write never leaves a partial file at the destination; an existing file is never
// replaced unless the caller says so; and a name that would land outside the folder the user
// chose (`..` segments, an absolute name, a symlink pointing elsewhere) is refused.
import { randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, realpathSync, renameSync, unlinkSync, writeSync, existsSync } from 'node:fs'
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'

export class ExportPathError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ExportPathError'
  }
}

export class ExportExistsError extends Error {
  constructor(readonly path: string) {
    super(`${path} already exists; pass overwrite (--overwrite on the command line) to replace it`)
    this.name = 'ExportExistsError'
  }
}

/** A file's content, or a function that writes it in pieces (large checkpoints). */
export type FileContent = string | Uint8Array | ((write: (chunk: string | Uint8Array) => void) => void | Promise<void>)

export interface AtomicOptions {
  overwrite?: boolean
}

const isInside = (base: string, p: string): boolean => {
  const rel = relative(base, p)
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))
}

/** Create `dir` (and its parents) if needed; return its real path (symlinks resolved). */
export function prepareDir(dir: string): string {
  const abs = resolve(dir)
  if (existsSync(abs)) {
    const real = realpathSync(abs)
    if (!lstatSync(real).isDirectory()) throw new ExportPathError(`${abs} is not a folder`)
    return real
  }
  mkdirSync(abs, { recursive: true })
  return realpathSync(abs)
}

/**
 * The absolute path of `name` inside `dir`, or an ExportPathError when it would be anywhere
 * else: `name` must be relative, without `..` segments, and neither it nor any folder on the
 * way may be a symlink that leads out of `dir`. Missing intermediate folders are created.
 */
export function resolveInside(dir: string, name: string): string {
  if (!name || name.includes('\0')) throw new ExportPathError(`invalid file name ${JSON.stringify(name)}`)
  if (isAbsolute(name)) throw new ExportPathError(`"${name}" is an absolute path; export names must stay inside ${resolve(dir)}`)
  const parts = name.split(/[\\/]+/)
  if (parts.some((s) => s === '..')) throw new ExportPathError(`"${name}" leaves the export folder ${resolve(dir)} ('..' is not allowed)`)
  const base = prepareDir(dir)
  const target = join(base, ...parts.filter((s) => s !== '' && s !== '.'))
  if (!isInside(base, target) || target === base) throw new ExportPathError(`"${name}" is not a file inside ${base}`)
  // every existing folder on the way, and the file itself if it exists, must resolve inside base
  let cur = base
  const segs = relative(base, target).split(sep)
  for (let i = 0; i < segs.length; i++) {
    cur = join(cur, segs[i])
    let st
    try {
      st = lstatSync(cur)
    } catch {
      if (i < segs.length - 1) mkdirSync(cur)
      continue
    }
    if (st.isSymbolicLink()) {
      let real: string
      try {
        real = realpathSync(cur)
      } catch {
        throw new ExportPathError(`${cur} is a dangling symlink; refusing to write through it`)
      }
      if (!isInside(base, real)) throw new ExportPathError(`${cur} is a symlink to ${real}, outside the export folder ${base}; refusing to write there`)
    }
  }
  return target
}

function tempNameFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`)
}

async function writeTemp(tmp: string, content: FileContent): Promise<void> {
  const fd = openSync(tmp, 'wx', 0o644)
  try {
    const write = (chunk: string | Uint8Array): void => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk
      let off = 0
      while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off)
    }
    if (typeof content === 'function') await content(write)
    else write(content)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

const tryUnlink = (p: string): void => {
  try {
    unlinkSync(p)
  } catch {
    /* already gone */
  }
}

export interface AtomicFile {
  /** a path relative to the chosen folder, e.g. "model.json" */
  name: string
  content: FileContent
}

/**
 * Write several files into `dir` as one unit: every destination is checked first (nothing is
 * written when one exists without `overwrite`, or one is outside `dir`), every file goes to a
 * temporary sibling, and only when all are complete are they renamed into place. On an error
 * the temporaries are removed and the destinations are untouched. Returns the final paths.
 */
export async function writeFilesAtomic(dir: string, files: AtomicFile[], opts: AtomicOptions = {}): Promise<string[]> {
  const targets = files.map((f) => resolveInside(dir, f.name))
  if (new Set(targets).size !== targets.length) throw new ExportPathError(`two export files share a name: ${files.map((f) => f.name).join(', ')}`)
  if (!opts.overwrite) {
    for (const t of targets) if (existsSync(t)) throw new ExportExistsError(t)
  }
  const temps: string[] = []
  try {
    for (let i = 0; i < files.length; i++) {
      const tmp = tempNameFor(targets[i])
      temps.push(tmp)
      await writeTemp(tmp, files[i].content)
    }
    // re-check just before the renames: a file may have appeared meanwhile
    if (!opts.overwrite) {
      for (const t of targets) if (existsSync(t)) throw new ExportExistsError(t)
    }
    for (let i = 0; i < files.length; i++) {
      renameSync(temps[i], targets[i])
      temps[i] = ''
    }
  } catch (e) {
    for (const t of temps) if (t) tryUnlink(t)
    throw e
  }
  return targets
}

/** One file: `writeFilesAtomic(dir, [{ name, content }])`. */
export async function writeFileAtomic(dir: string, name: string, content: FileContent, opts: AtomicOptions = {}): Promise<string> {
  return (await writeFilesAtomic(dir, [{ name, content }], opts))[0]
}

/** Split a user's output file path into its folder (the folder they chose) and its name. */
export function splitOutPath(file: string): { dir: string; name: string } {
  const abs = resolve(file)
  if (file.endsWith('/') || file.endsWith(sep)) throw new ExportPathError(`${file} names a folder; give a file name`)
  return { dir: dirname(abs), name: basename(abs) }
}
