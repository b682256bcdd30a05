// Where projects live by default, and the recent-projects list (a small JSON file beside the
// default project). Pure Node, shared by the desktop shell and `iwsft serve`.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

/** The app's home folder: $IWSFT_HOME, else ~/.iwsft */
export function appHome(): string {
  return resolve(process.env.IWSFT_HOME ?? join(homedir(), '.iwsft'))
}

export function defaultProjectFile(): string {
  return join(appHome(), 'default.iwsft')
}

export interface RecentList {
  list(): string[]
  add(file: string): void
}

export function fileRecentList(file = join(appHome(), 'recent.json'), max = 10): RecentList {
  const read = (): string[] => {
    try {
      const v = JSON.parse(readFileSync(file, 'utf8')) as unknown
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
    } catch {
      return []
    }
  }
  return {
    list: () => read().filter((f) => existsSync(f)),
    add: (f: string) => {
      const abs = resolve(f)
      const next = [abs, ...read().filter((x) => x !== abs)].slice(0, max)
      try {
        mkdirSync(join(file, '..'), { recursive: true })
        writeFileSync(file, JSON.stringify(next, null, 2))
      } catch {
        // a recent list that cannot be written is not worth failing an open for
      }
    }
  }
}

export function memoryRecentList(): RecentList {
  let items: string[] = []
  return {
    list: () => [...items],
    add: (f) => {
      const abs = resolve(f)
      items = [abs, ...items.filter((x) => x !== abs)].slice(0, 10)
    }
  }
}
