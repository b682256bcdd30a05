// Copy what can still be read out of a damaged project into a new one (`iwsft project recover
// FILE --out NEW`). The damaged file is only read. Each table is read in key order in batches;
// where a read fails on a damaged page, it goes on one row at a time, and past a page that
// cannot be read it jumps ahead (1, 2, 4, … keys further) to the first key that reads again:
// the rows on that page are lost, the rest are kept. Metrics (keyed by run, key, step) jump to
// the next run. Rows whose parent was lost (a metric of a lost run) are dropped, so the new file
// passes foreign_key_check; it is written beside the target and renamed into place when whole,
// then opened once as a project (migrated to this app's schema; quick_check must pass).
// (SQLite's own `.recover` in the sqlite3 shell digs deeper; it is not in better-sqlite3.)
import { existsSync, renameSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import Database from 'better-sqlite3'
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from './migrations.ts'
import { openProject, StoreError } from './project-store.ts'

export interface RecoveredTable {
  table: string
  /** rows copied into the new project */
  copied: number
  /** pages (runs, for metrics) that could not be read and were stepped over */
  gaps: number
  /** rows dropped because what they belong to was lost */
  orphans: number
}

export interface RecoverReport {
  file: string
  out: string
  tables: RecoveredTable[]
}

/** Tables in the order their parents come first. */
const ORDER = ['project', 'datasets', 'presets', 'ref_logprobs', 'imported_logprobs', 'runs', 'metrics', 'weight_snapshots', 'checkpoints', 'artifacts']
const BATCH = 500
const isCorrupt = (e: unknown): boolean => /^SQLITE_(CORRUPT|NOTADB|IOERR)/.test(String((e as { code?: unknown })?.code ?? ''))

export function recoverProject(file: string, out: string): RecoverReport {
  const src = resolve(file)
  const dst = resolve(out)
  if (!existsSync(src)) throw new StoreError(`${src}: no such file to recover`, src)
  if (existsSync(dst)) throw new StoreError(`${dst} already exists; choose a new file name for the recovered project`, dst)
  const from = new Database(src, { readonly: true, fileMustExist: true })
  const partial = `${dst}.partial`
  rmSync(partial, { force: true })
  let to: Database.Database | null = null
  try {
    const version = from.pragma('user_version', { simple: true }) as number
    const appId = from.pragma('application_id', { simple: true }) as number
    if (appId !== APPLICATION_ID || version < 1) throw new StoreError(`${src} is not an IW-SFT Workbench project (application id 0x${(appId >>> 0).toString(16)}, schema ${version})`, src)
    if (version > SCHEMA_VERSION) throw new StoreError(`${src} was written by a newer IW-SFT Workbench (schema ${version}); recover it with that version`, src)
    // the new file at the damaged file's schema; openProject migrates it afterwards
    to = new Database(partial)
    to.pragma(`application_id = ${APPLICATION_ID}`)
    to.transaction(() => {
      for (let v = 0; v < version; v++) MIGRATIONS[v].up(to!)
    })()
    to.exec('DELETE FROM project')
    to.pragma(`user_version = ${version}`)
    const tables: RecoveredTable[] = []
    const have = new Set((to.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((r) => r.name))
    for (const table of ORDER.filter((t) => have.has(t))) tables.push(copyTable(from, to, table, src))
    // rows whose parent row was lost
    for (const v of to.pragma('foreign_key_check') as Array<{ table: string; rowid: number | null }>) {
      if (v.rowid === null) continue // metrics, below
      if (v.table === 'runs') {
        // a run keeps its metrics when its dataset was lost, as when a dataset is deleted
        to.prepare('UPDATE runs SET dataset_id = NULL WHERE rowid = ?').run(v.rowid)
        continue
      }
      const t = tables.find((x) => x.table === v.table)!
      t.orphans += to.prepare(`DELETE FROM ${v.table} WHERE rowid = ?`).run(v.rowid).changes
      t.copied = t.copied - 1
    }
    // metrics has no rowid: drop those of runs that were not recovered
    const m = tables.find((t) => t.table === 'metrics')
    if (m) {
      const n = to.prepare('DELETE FROM metrics WHERE run_id NOT IN (SELECT id FROM runs)').run().changes
      m.orphans += n
      m.copied -= n
    }
    to.close()
    to = null
    renameSync(partial, dst)
    // migrate to this app's schema, mark runs whose owner is gone, check the result
    const store = openProject(dst, { create: false })
    const damage = store.damage
    store.close()
    if (damage) throw new StoreError(`the recovered copy ${dst} does not pass quick_check either (${damage}); try \`sqlite3 ${src} .recover\``, dst)
    return { file: src, out: dst, tables }
  } catch (e) {
    to?.close()
    rmSync(partial, { force: true })
    if (e instanceof StoreError) throw e
    throw new StoreError(`${src}: could not be recovered (${(e as Error).message}); its schema may be what is damaged: try \`sqlite3 ${src} .recover | sqlite3 ${dst}\``, src)
  } finally {
    from.close()
  }
}

function copyTable(from: Database.Database, to: Database.Database, table: string, src: string): RecoveredTable {
  const cols = (to.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name)
  const srcCols = new Set((from.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name))
  const shared = cols.filter((c) => srcCols.has(c))
  if (shared.length === 0) throw new StoreError(`${src}: table "${table}" cannot be read at all`, src)
  const list = shared.join(', ')
  const insert = to.prepare(`INSERT INTO ${table} (${list}) VALUES (${shared.map(() => '?').join(', ')})`)
  const r: RecoveredTable = { table, copied: 0, gaps: 0, orphans: 0 }
  const put = to.transaction((rows: unknown[][]) => {
    for (const row of rows) insert.run(...row)
    r.copied += rows.length
  })
  if (table === 'metrics') {
    // WITHOUT ROWID, keyed (run_id, key, step): past a damaged page, go on with the next run
    const batch = from.prepare(`SELECT ${list} FROM metrics WHERE (run_id, key, step) > (?, ?, ?) ORDER BY run_id, key, step LIMIT ${BATCH}`).raw()
    const nextRun = from.prepare('SELECT run_id FROM metrics WHERE run_id > ? ORDER BY run_id, key, step LIMIT 1').pluck()
    const runAt = shared.indexOf('run_id')
    const keyAt = shared.indexOf('key')
    const stepAt = shared.indexOf('step')
    let pos: [number, string, number] = [-(2 ** 53), '', -(2 ** 53)]
    for (;;) {
      let rows: unknown[][]
      try {
        rows = batch.all(...pos) as unknown[][]
      } catch (e) {
        if (!isCorrupt(e)) throw e
        r.gaps++
        const next = skipAhead(pos[0], (k) => nextRun.get(k) as number | undefined)
        if (next === undefined) break
        pos = [next, '', -(2 ** 53)]
        continue
      }
      if (rows.length === 0) break
      put(rows)
      const last = rows[rows.length - 1]
      pos = [last[runAt] as number, last[keyAt] as string, last[stepAt] as number]
    }
    return r
  }
  const batch = from.prepare(`SELECT rowid, ${list} FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT ?`).raw()
  const nextKey = from.prepare(`SELECT rowid FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT 1`).pluck()
  let last = -(2 ** 53)
  let size = BATCH
  for (;;) {
    let rows: unknown[][]
    try {
      rows = batch.all(last, size) as unknown[][]
    } catch (e) {
      if (!isCorrupt(e)) throw e
      if (size > 1) {
        size = 1 // read up to the damage one row at a time
        continue
      }
      r.gaps++
      const next = skipAhead(last, (k) => nextKey.get(k) as number | undefined)
      if (next === undefined) break
      last = next - 1
      continue
    }
    if (rows.length === 0) break
    put(rows.map((row) => row.slice(1)))
    last = rows[rows.length - 1][0] as number
    size = BATCH
  }
  return r
}

/** The first key past `from` that can be read: ask for one past from + 1, + 2, + 4, …; undefined
 *  when nothing readable lies beyond (or the table ends there). */
function skipAhead(from: number, firstAfter: (k: number) => number | undefined): number | undefined {
  for (let jump = 1; jump < 2 ** 53; jump *= 2) {
    try {
      return firstAfter(from + jump)
    } catch (e) {
      if (!isCorrupt(e)) throw e
    }
  }
  return undefined
}
