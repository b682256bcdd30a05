// One back end a project (issue 12): a second `npm start` or `iwsft serve` on a project that a
// running back end has open is refused with a message that names that process, instead of two
// servers each believing they own the project's jobs. The claim is a small JSON file under
// <app home>/servers/, named by a hash of the project's real path and created exclusively; a
// claim whose process is gone (a crash) is taken over.
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ApiError } from '../../shared/contract.ts'
import { canonicalPath } from './allowed-paths.ts'
import { appHome } from './recent.ts'

interface Claim {
  pid: number
  project: string
  startedAt: string
  what: string
}

const held = new Set<string>()

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' // someone else's process: alive
  }
}

/** Claim `projectFile` for this process; returns the release. Throws ApiError('failed') naming
 *  the holder when another live back end (or another server in this process) has it. */
export function claimProject(projectFile: string, what = 'iwsft serve', dir = join(appHome(), 'servers')): () => void {
  const project = canonicalPath(projectFile)
  const file = join(dir, `${createHash('sha256').update(project).digest('hex').slice(0, 24)}.json`)
  mkdirSync(dir, { recursive: true })
  const mine: Claim = { pid: process.pid, project, startedAt: new Date().toISOString(), what }
  for (let attempt = 0; attempt < 2; attempt++) {
    if (held.has(file)) throw new ApiError(`${project} is already open in another back end of this process; close it first`, 'failed')
    try {
      writeFileSync(file, JSON.stringify(mine), { flag: 'wx' })
      held.add(file)
      return () => {
        if (!held.delete(file)) return
        rmSync(file, { force: true })
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    let other: Claim | null
    try {
      other = JSON.parse(readFileSync(file, 'utf8')) as Claim
    } catch {
      other = null // half-written or unreadable: treat as stale
    }
    if (other && typeof other.pid === 'number' && other.pid !== process.pid && alive(other.pid)) {
      throw new ApiError(
        `${project} is already open in another IW-SFT back end (${other.what}, process ${other.pid}, since ${other.startedAt}): use that window or tab, or close it (Ctrl+C for \`iwsft serve\`) and try again`,
        'failed'
      )
    }
    rmSync(file, { force: true }) // left by a process that is gone
  }
  throw new ApiError(`could not claim ${project}: another back end keeps claiming it`, 'failed')
}
