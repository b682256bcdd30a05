// Who owns a running run: the process id alone is not enough, since the system hands a dead
// process's pid to a new, unrelated process sooner or later (a run once stayed 'running' for
// good that way). A run records its owner's pid, the process's start time and the host; the
// owner is alive only if a process with that pid exists on this host AND started at that time.
//
// The start time: on Linux the boot id plus field 22 of /proc/PID/stat (clock ticks since boot),
// exact and cheap; on macOS and the BSDs `ps -o lstart=` (to the second); elsewhere unknown
// (null), and then only the pid is checked, as for runs recorded before this was kept.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'

export interface ProcessOwner {
  pid: number
  /** opaque start-time stamp of the process, or null where it cannot be read */
  start: string | null
  host: string
}

/** Is there a process with this pid? Only ESRCH ("no such process") counts as none; EPERM means it exists. */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}

let bootId: string | null | undefined

/** The start-time stamp of process `pid`, or null (no such process, or not readable here). */
export function processStart(pid: number): string | null {
  if (!Number.isInteger(pid) || pid <= 0) return null
  if (process.platform === 'linux') {
    try {
      if (bootId === undefined) bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so count from the last ')'
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const starttime = fields[22 - 3]
      return starttime ? `${bootId}:${starttime}` : null
    } catch {
      return null
    }
  }
  if (process.platform === 'darwin' || process.platform.endsWith('bsd')) {
    const r = spawnSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', timeout: 2000 })
    const out = r.status === 0 ? r.stdout.trim() : ''
    return out || null
  }
  return null
}

let self: ProcessOwner | null = null

/** This process, as a run records its owner. */
export function thisProcess(): ProcessOwner {
  self ??= { pid: process.pid, start: processStart(process.pid), host: hostname() }
  return self
}

/** Null when the recorded owner still runs, else why it does not (for the run's error). */
export function ownerGone(owner: { pid: number | null; start: string | null; host: string | null }): string | null {
  const me = thisProcess()
  if (owner.pid === null) return 'no owning process was recorded'
  if (owner.host !== null && owner.host !== me.host) {
    return `it was started on host "${owner.host}", and its process (pid ${owner.pid}) cannot be seen from "${me.host}"`
  }
  if (owner.pid === me.pid && (owner.start === null || owner.start === me.start)) return null
  if (!pidAlive(owner.pid)) return `its process (pid ${owner.pid}) ended before it finished (crash, kill or power loss)`
  if (owner.start !== null) {
    const now = processStart(owner.pid)
    if (now !== null && now !== owner.start) return `its process (pid ${owner.pid}) ended before it finished; that pid now belongs to another process`
  }
  return null
}
