// The SQLite project store: one file per project, WAL mode so that a training worker can
// write while the UI reads, a busy timeout so that short write locks are waited out, and
// numbered migrations (migrations.ts). Every error names the project file and what to do.
//
// Faults it stands up to:
// - a busy database: a run's own writes (metrics, snapshots, checkpoints, status) wait out
//   another process's write lock however long it is held (busy_timeout, then retries with
//   back-off): a run never fails because someone else held the project;
// - a damaged file: an existing project is checked with PRAGMA quick_check before it is
//   opened; a damaged one is opened read-only (store.damage says what is wrong and how to
//   recover: `iwsft project recover`, recover.ts), never switched to WAL or written to;
// - a dead run owner: see process-owner.ts.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { CurationSchema, type Curation, type RunConfig } from '../../shared/config.ts'
import { DatasetError, datasetHash, validateDataset, type TraceDataset } from '../common/trace.ts'
import { BlobError, decodeTensors, encodeTensors, fromBlob, toBlob } from './blobs.ts'
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, migrate } from './migrations.ts'
import { modelStore } from './model-store.ts'
import type { BcReferenceRow, CheckpointRow, DatasetSummary, ImportedLogProbs, MetricPoint, PresetRow, ProjectStore, RunRow, RunStatus } from './types.ts'
import type { WeightSnapshot } from '../common/tensors.ts'
import { ownerGone, pidAlive, thisProcess } from './process-owner.ts'

export { pidAlive }

export interface OpenProjectOptions {
  /** create the file (and its schema) when it does not exist; default true */
  create?: boolean
  /** open without writing anything (no migration, no WAL switch, no markInterrupted); default false */
  readonly?: boolean
  /** how long to wait for another process's write lock before failing; default 10 000 ms */
  busyTimeoutMs?: number
  /** mark runs of dead processes 'interrupted' on open; default true (false when readonly) */
  markInterrupted?: boolean
  /** check an existing file with PRAGMA quick_check before opening it (0.2–0.4 s for a 230 MB
   *  project on this machine); default true unless readonly (a read-only open cannot make damage
   *  worse, and a damaged page read later fails with the recovery advice). A damaged file is
   *  opened read-only, with store.damage set. */
  quickCheck?: boolean
  /** how long a run's writes (metrics, snapshots, checkpoints, status) keep retrying while
   *  another process holds the write lock; default: for as long as it is held */
  runWriteRetryMs?: number
  /** called while a run's write waits for the lock (every retry) */
  onBusy?: (what: string, waitedMs: number) => void
}

/** The store's methods that write, refused on a damaged file. */
const WRITES = new Set([
  'putDataset',
  'putImportedDataset',
  'deleteDataset',
  'savePreset',
  'putRefLogProbs',
  'createRun',
  'setRunStatus',
  'setRunBackend',
  'setRunVersions',
  'appendMetrics',
  'putWeightSnapshot',
  'putCheckpoint',
  'deleteRun',
  'renameRun',
  'putBcReference',
  'markRunInterrupted'
])
/** A run's own writes: they wait for a busy database instead of failing the run. */
const RUN_WRITES = new Set(['createRun', 'setRunStatus', 'setRunBackend', 'setRunVersions', 'appendMetrics', 'putWeightSnapshot', 'putCheckpoint', 'putRefLogProbs', 'putBcReference'])

const isBusy = (e: unknown): boolean => String((e as { code?: unknown })?.code ?? '').startsWith('SQLITE_BUSY')

const sleeper = new Int32Array(new SharedArrayBuffer(4))
/** Block this thread for `ms` (the store's API is synchronous, as better-sqlite3's is). */
const sleepSync = (ms: number): void => void Atomics.wait(sleeper, 0, 0, ms)

/** `f()`, retried while the database is busy: back-off from 50 ms doubling to 1 s between tries
 *  (each try itself waits busy_timeout), for at most `limitMs` in all. */
function retryBusy<T>(f: () => T, limitMs: number, onWait: (waitedMs: number) => void): T {
  const t0 = Date.now()
  let pause = 50
  for (;;) {
    try {
      return f()
    } catch (e) {
      const waited = Date.now() - t0
      if (!isBusy(e) || waited >= limitMs) throw e
      onWait(waited)
      sleepSync(Math.min(pause, Math.max(0, limitMs - waited)))
      pause = Math.min(pause * 2, 1000)
    }
  }
}

/** How to get what can be read out of a damaged project. */
export function recoverAdvice(file: string): string {
  return `copy what can be read into a new project with \`iwsft project recover ${file} --out NEW.iwsft\` (or \`sqlite3 ${file} .recover | sqlite3 NEW.iwsft\`) and open that`
}

function damagedError(file: string, damage: string): StoreError {
  return new StoreError(`${damage}; ${recoverAdvice(file)}`, file)
}

/** An error of the project store; `file` is the project file it concerns. */
export class StoreError extends Error {
  constructor(
    message: string,
    readonly file: string
  ) {
    super(message)
    this.name = 'StoreError'
  }
}

const RUN_STATUSES: readonly RunStatus[] = ['queued', 'running', 'completed', 'failed', 'cancelled', 'interrupted']
const KINDS: readonly TraceDataset['kind'][] = ['discrete', 'continuous', 'sequence']
const TERMINAL: ReadonlySet<RunStatus> = new Set(['completed', 'failed', 'cancelled', 'interrupted'])
const SQLITE_MAGIC = 'SQLite format 3\0'

const now = (): string => new Date().toISOString()

interface Candidate {
  id: number
  owner_pid: number | null
  owner_start: string | null
  owner_host: string | null
  status: RunStatus
}
const owner = (r: Pick<Candidate, 'owner_pid' | 'owner_start' | 'owner_host'>) => ({ pid: r.owner_pid, start: r.owner_start, host: r.owner_host })

function newerSchemaError(file: string, found: number): StoreError {
  return new StoreError(
    `${file} was written by a newer IW-SFT Workbench (schema ${found}, this app knows ${SCHEMA_VERSION}); update the app to open this project. The file was not changed.`,
    file
  )
}

function notOursError(file: string, why: string): StoreError {
  return new StoreError(`${file} is not an IW-SFT Workbench project (${why}); choose a project file, or a new file name to create one. The file was not changed.`, file)
}

/** Refuse a file that is another application's database or a newer project. */
function checkIdentity(file: string, version: number, appId: number): void {
  if (appId !== 0 && appId !== APPLICATION_ID) throw notOursError(file, `a SQLite database of another application, id 0x${(appId >>> 0).toString(16)}`)
  if (appId === 0 && version !== 0) throw notOursError(file, `a SQLite database of another application, schema ${version}`)
  if (version > SCHEMA_VERSION) throw newerSchemaError(file, version)
}

/** Read the schema version and application id from the 100-byte SQLite header without
 *  opening the database, so a file we must refuse is never touched. Null for an empty file. */
function readHeader(file: string): { version: number; appId: number } | null {
  const fd = openSync(file, 'r')
  try {
    const head = Buffer.alloc(100)
    const n = readSync(fd, head, 0, 100, 0)
    if (n === 0) return null
    if (n < 100 || head.toString('latin1', 0, 16) !== SQLITE_MAGIC) throw notOursError(file, 'not a SQLite database')
    // PRAGMA user_version lives at byte 60 and application_id at byte 68, big-endian
    return { version: head.readUInt32BE(60), appId: head.readInt32BE(68) }
  } finally {
    closeSync(fd)
  }
}

/** Check an existing file before opening it for writing: first from the header bytes, then
 *  through a read-only connection (which also sees transactions committed to the WAL), then
 *  (quickCheck) its structure. Returns what is damaged, or null. */
function checkExisting(file: string, quickCheck: boolean): string | null {
  const h = readHeader(file)
  if (h === null) return null
  checkIdentity(file, h.version, h.appId)
  let ro: Database.Database | null = null
  try {
    ro = new Database(file, { readonly: true, fileMustExist: true })
    const version = ro.pragma('user_version', { simple: true }) as number
    checkIdentity(file, version, ro.pragma('application_id', { simple: true }) as number)
    if (version === 0) {
      const n = (ro.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").get() as { n: number }).n
      if (n > 0) throw notOursError(file, `a SQLite database with ${n} tables or indexes of its own`)
    }
    return quickCheck ? damageOf(ro, file) : null
  } catch (e) {
    const code = String((e as { code?: unknown })?.code ?? '')
    // so damaged that even the checks fail to read it
    if (code.startsWith('SQLITE_CORRUPT')) throw damagedError(file, `${file} is damaged (${(e as Error).message})`)
    throw wrapError(e, file, 'open the project')
  } finally {
    ro?.close()
  }
}

/** PRAGMA quick_check (b-trees, free list, record formats; not index contents): null when sound,
 *  else what it found. It reads the whole file once: 0.2–0.4 s for a 230 MB project here (warm
 *  page cache, 2 busy cores; open without it: 3–9 ms), which a project open can afford. */
function damageOf(db: Database.Database, file: string): string | null {
  const tail = 'it was opened read-only, so nothing more is lost'
  let rows: string[]
  try {
    rows = (db.pragma('quick_check(20)') as Array<{ quick_check: string }>).map((r) => r.quick_check)
  } catch (e) {
    // damage bad enough that the check itself stops on it
    if (!String((e as { code?: unknown })?.code ?? '').startsWith('SQLITE_CORRUPT')) throw e
    return `${file} is damaged: PRAGMA quick_check stopped on it ("${(e as Error).message}"); ${tail}`
  }
  if (rows.length === 1 && rows[0] === 'ok') return null
  // one problem a line (SQLite may put several in one row)
  const problems = rows
    .flatMap((r) => r.split('\n'))
    .map((p) => p.replace(/^\*\*\* in database main \*\*\*\s*/, '').trim())
    .filter(Boolean)
  const n = problems.length >= 20 ? '20 or more problems' : problems.length === 1 ? 'a problem' : `${problems.length} problems`
  return `${file} is damaged: PRAGMA quick_check found ${n} (the first: "${problems[0]}"); ${tail}`
}

/** Turn any error into one that names the file and says what to do. */
function wrapError(e: unknown, file: string, doing: string): Error {
  if (e instanceof StoreError) return e
  if (e instanceof DatasetError) return new DatasetError(`cannot store in ${file}: ${e.message}; fix the data and import it again`)
  if (e instanceof BlobError) return new StoreError(`${file}: ${doing}: ${e.message}`, file)
  const err = e as { code?: string; message?: string }
  const msg = err?.message ?? String(e)
  const code = err?.code ?? ''
  let advice: string
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    advice = 'another process (a training worker or a second window) held the project locked for too long; wait for it to finish and try again'
  } else if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    advice = `the project file is damaged or is not a project; ${recoverAdvice(file)}, or restore it from a backup`
  } else if (code.startsWith('SQLITE_FULL')) {
    advice = 'the disk is full; free some space and try again'
  } else if (code.startsWith('SQLITE_READONLY')) {
    advice = 'the project is open read-only or the file is not writable; check its permissions, or open it without the read-only option'
  } else if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_PERM')) {
    advice = 'the file or its folder cannot be read or written; check that the folder exists and that you may write to it'
  } else if (code.startsWith('SQLITE_CONSTRAINT')) {
    advice = 'the request refers to something that does not exist or already exists; reload and try again'
  } else if (code === 'SQLITE_TOOBIG') {
    advice = 'a value is larger than SQLite allows (1 GB); split the data into smaller parts'
  } else {
    advice = 'if this persists, report it with the project file'
  }
  const out = new StoreError(`${file}: cannot ${doing}: ${msg}; ${advice}`, file)
  ;(out as { cause?: unknown }).cause = e
  return out
}

interface DatasetRowDb {
  id: number
  name: string
  kind: TraceDataset['kind']
  hash: string
  obs_dim: number
  act_dim: number
  source: string
  num_traces: number
  num_steps: number
  score_min: number
  score_max: number
  created_at: string
}

interface RunRowDb {
  id: number
  name: string
  group_name: string | null
  method: RunConfig['method']
  status: RunStatus
  seed: number
  backend: string | null
  dataset_id: number | null
  data_hash: string | null
  config: string
  versions: string
  error: string | null
  owner_pid: number | null
  owner_start: string | null
  owner_host: string | null
  last_step: number | null
  created_at: string
  started_at: string | null
  ended_at: string | null
}

const SUMMARY_COLS = 'id, name, kind, hash, obs_dim, act_dim, source, num_traces, num_steps, score_min, score_max, created_at'

function toSummary(r: DatasetRowDb): DatasetSummary {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    hash: r.hash,
    numTraces: r.num_traces,
    numSteps: r.num_steps,
    obsDim: r.obs_dim,
    actDim: r.act_dim,
    source: r.source,
    createdAt: r.created_at,
    scoreMin: r.score_min,
    scoreMax: r.score_max
  }
}

function toRun(r: RunRowDb): RunRow {
  return {
    id: r.id,
    name: r.name,
    group: r.group_name,
    method: r.method,
    status: r.status,
    seed: r.seed,
    backend: r.backend,
    datasetId: r.dataset_id,
    dataHash: r.data_hash,
    config: JSON.parse(r.config) as RunConfig,
    versions: JSON.parse(r.versions) as Record<string, string>,
    error: r.error,
    createdAt: r.created_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    lastStep: r.last_step
  }
}

/**
 * Open (or create) a project file. Throws a StoreError naming the file when it cannot be
 * opened, is not a project, or was written by a newer version of the app (in which case the
 * file is left byte-for-byte untouched). Pass ':memory:' for a throw-away in-memory store.
 */
export function openProject(file: string, opts: OpenProjectOptions = {}): ProjectStore {
  const memory = file === ':memory:'
  const path = memory ? file : resolve(file)
  let readonly = opts.readonly ?? false
  const create = (opts.create ?? true) && !readonly
  const busyTimeoutMs = opts.busyTimeoutMs ?? 10_000
  let damage: string | null = null

  if (!memory) {
    const exists = existsSync(path)
    if (!exists && !create) {
      throw new StoreError(`${path}: no project file there; check the path, or create a new project${readonly ? ' (read-only opening cannot create one)' : ''}`, path)
    }
    if (!exists && !existsSync(dirname(path))) {
      throw new StoreError(`${path}: the folder ${dirname(path)} does not exist; create it first or choose another location`, path)
    }
    if (exists) {
      if (statSync(path).isDirectory()) throw new StoreError(`${path} is a folder, not a project file; choose a file name`, path)
      damage = checkExisting(path, opts.quickCheck ?? !readonly)
      // a damaged file is never written to (no WAL switch, no migration, no interrupted marks)
      if (damage !== null) readonly = true
    }
  }

  let db: Database.Database
  try {
    db = new Database(path, { readonly, fileMustExist: !create })
  } catch (e) {
    throw wrapError(e, path, 'open the project')
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`)
    db.pragma('foreign_keys = ON')
    if (readonly) {
      const v = db.pragma('user_version', { simple: true }) as number
      checkIdentity(path, v, db.pragma('application_id', { simple: true }) as number)
      if (v < SCHEMA_VERSION) {
        if (damage !== null) throw damagedError(path, damage)
        throw new StoreError(`${path} uses an older project format (schema ${v}, this app writes ${SCHEMA_VERSION}); open it once without read-only to upgrade it`, path)
      }
    } else {
      if (!memory) db.pragma('journal_mode = WAL')
      // WAL + NORMAL: a committed transaction survives a crash of the process (not always a
      // power cut), and commits do not wait for fsync.
      db.pragma('synchronous = NORMAL')
      migrate(db, {
        newer: (found) => newerSchemaError(path, found),
        notOurs: (why) => notOursError(path, why)
      })
    }
  } catch (e) {
    db.close()
    throw wrapError(e, path, 'open the project')
  }

  const store = createStore(db, path, readonly, damage, opts)
  if (!readonly && (opts.markInterrupted ?? true)) {
    try {
      store.markInterrupted()
    } catch (e) {
      store.close()
      throw e
    }
  }
  return store
}

function createStore(db: Database.Database, file: string, readonly: boolean, damage: string | null, opts: OpenProjectOptions): ProjectStore {
  const me = thisProcess()
  const q = {
    datasetByHash: db.prepare<[string], { id: number }>('SELECT id FROM datasets WHERE hash = ?'),
    insertDataset: db.prepare(
      `INSERT INTO datasets (name, kind, hash, obs_dim, act_dim, source, num_traces, num_steps, score_min, score_max, created_at,
                             offsets, obs, actions, actions_type, mask, rewards, scores, ids, meta)
       VALUES (@name, @kind, @hash, @obs_dim, @act_dim, @source, @num_traces, @num_steps, @score_min, @score_max, @created_at,
               @offsets, @obs, @actions, @actions_type, @mask, @rewards, @scores, @ids, @meta)`
    ),
    datasetFull: db.prepare<[number], Record<string, unknown>>('SELECT * FROM datasets WHERE id = ?'),
    summaryById: db.prepare<[number], DatasetRowDb>(`SELECT ${SUMMARY_COLS} FROM datasets WHERE id = ?`),
    summaryByName: db.prepare<[string], DatasetRowDb>(`SELECT ${SUMMARY_COLS} FROM datasets WHERE name = ? ORDER BY created_at DESC, id DESC LIMIT 1`),
    listDatasets: db.prepare<[], DatasetRowDb>(`SELECT ${SUMMARY_COLS} FROM datasets ORDER BY created_at DESC, id DESC`),
    deleteDataset: db.prepare('DELETE FROM datasets WHERE id = ?'),

    upsertPreset: db.prepare(
      `INSERT INTO presets (dataset_id, name, curation, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (dataset_id, name) DO UPDATE SET curation = excluded.curation, created_at = excluded.created_at`
    ),
    presetByName: db.prepare<[number, string], PresetDb>('SELECT * FROM presets WHERE dataset_id = ? AND name = ?'),
    presetsAll: db.prepare<[], PresetDb>('SELECT * FROM presets ORDER BY dataset_id, name'),
    presetsOf: db.prepare<[number], PresetDb>('SELECT * FROM presets WHERE dataset_id = ? ORDER BY name'),

    getImported: db.prepare<[number], { ref_logp: Buffer; policy_logp: Buffer; tokenizer: string | null }>(
      'SELECT ref_logp, policy_logp, tokenizer FROM imported_logprobs WHERE dataset_id = ?'
    ),
    putImported: db.prepare(
      `INSERT INTO imported_logprobs (dataset_id, ref_logp, policy_logp, tokenizer, created_at) VALUES (@dataset_id, @ref_logp, @policy_logp, @tokenizer, @created_at)
       ON CONFLICT (dataset_id) DO UPDATE SET ref_logp = excluded.ref_logp, policy_logp = excluded.policy_logp, tokenizer = excluded.tokenizer, created_at = excluded.created_at`
    ),

    getRef: db.prepare<[string, string], { logp: Buffer }>('SELECT logp FROM ref_logprobs WHERE ref_key = ? AND data_hash = ?'),
    putRef: db.prepare(
      `INSERT INTO ref_logprobs (ref_key, data_hash, logp, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (ref_key, data_hash) DO UPDATE SET logp = excluded.logp, created_at = excluded.created_at`
    ),

    getBcRef: db.prepare<[string], { tensors: Buffer; train_ms: number }>('SELECT tensors, train_ms FROM bc_references WHERE key = ?'),
    putBcRef: db.prepare(
      `INSERT INTO bc_references (key, data_hash, data_label, settings, backend, tensors, train_ms, created_at)
       VALUES (@key, @data_hash, @data_label, @settings, @backend, @tensors, @train_ms, @created_at)
       ON CONFLICT (key) DO UPDATE SET tensors = excluded.tensors, train_ms = excluded.train_ms, data_label = COALESCE(excluded.data_label, data_label), created_at = excluded.created_at`
    ),
    listBcRefs: db.prepare<[], { key: string; data_hash: string; data_label: string | null; settings: string; backend: string; train_ms: number; created_at: string }>(
      'SELECT key, data_hash, data_label, settings, backend, train_ms, created_at FROM bc_references ORDER BY created_at DESC'
    ),
    renameRun: db.prepare('UPDATE runs SET name = ? WHERE id = ?'),

    insertRun: db.prepare(
      `INSERT INTO runs (name, group_name, method, status, seed, backend, dataset_id, data_hash, config, versions, owner_pid, owner_start, owner_host, created_at)
       VALUES (@name, @group_name, @method, 'queued', @seed, @backend, @dataset_id, @data_hash, @config, @versions, @owner_pid, @owner_start, @owner_host, @created_at)`
    ),
    runById: db.prepare<[number], RunRowDb>('SELECT * FROM runs WHERE id = ?'),
    listRuns: db.prepare<[], RunRowDb>('SELECT * FROM runs ORDER BY created_at DESC, id DESC'),
    setRunning: db.prepare(
      `UPDATE runs SET status = 'running', owner_pid = ?, owner_start = ?, owner_host = ?, started_at = COALESCE(started_at, ?), ended_at = NULL, error = NULL WHERE id = ?`
    ),
    setStatus: db.prepare('UPDATE runs SET status = ?, ended_at = ?, error = COALESCE(?, error) WHERE id = ?'),
    setStatusErr: db.prepare('UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ?'),
    setBackend: db.prepare('UPDATE runs SET backend = ? WHERE id = ?'),
    setVersions: db.prepare('UPDATE runs SET versions = ? WHERE id = ?'),
    deleteRun: db.prepare('DELETE FROM runs WHERE id = ?'),
    candidates: db.prepare<[], Candidate>(`SELECT id, owner_pid, owner_start, owner_host, status FROM runs WHERE status IN ('running', 'queued')`),
    interrupt: db.prepare(`UPDATE runs SET status = 'interrupted', ended_at = ?, error = ? WHERE id = ? AND status IN ('running', 'queued') AND owner_pid IS ?`),

    insertMetric: db.prepare('INSERT OR REPLACE INTO metrics (run_id, step, key, value) VALUES (?, ?, ?, ?)'),
    bumpLastStep: db.prepare('UPDATE runs SET last_step = MAX(COALESCE(last_step, -1), ?) WHERE id = ?'),
    metricsAll: db.prepare<[number], { step: number; key: string; value: number | null }>('SELECT step, key, value FROM metrics WHERE run_id = ? ORDER BY key, step'),
    metricsOfKey: db.prepare<[number, string], { step: number; key: string; value: number | null }>('SELECT step, key, value FROM metrics WHERE run_id = ? AND key = ? ORDER BY step'),
    metricsAfter: db.prepare<[number, number], { step: number; key: string; value: number | null }>('SELECT step, key, value FROM metrics WHERE run_id = ? AND step > ? ORDER BY step, key'),
    runStates: db.prepare<
      [],
      { id: number; name: string; group_name: string | null; status: RunStatus; last_step: number | null; owner_pid: number | null; started_at: string | null; error: string | null }
    >('SELECT id, name, group_name, status, last_step, owner_pid, started_at, error FROM runs ORDER BY id'),
    datasetIds: db.prepare<[], { id: number }>('SELECT id FROM datasets ORDER BY id'),
    metricKeys: db.prepare<[number], { key: string }>('SELECT DISTINCT key FROM metrics WHERE run_id = ? ORDER BY key'),

    putSnap: db.prepare(
      'INSERT OR REPLACE INTO weight_snapshots (run_id, step, trace_index, log_w_raw, w, version, w_clamped, mass, batch_index, batch_w) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
    ),
    snapSteps: db.prepare<[number], { step: number }>('SELECT step FROM weight_snapshots WHERE run_id = ? ORDER BY step'),
    getSnap: db.prepare<
      [number, number],
      { step: number; trace_index: Buffer; log_w_raw: Buffer; w: Buffer; version: number; w_clamped: Buffer | null; mass: Buffer | null; batch_index: Buffer | null; batch_w: Buffer | null }
    >('SELECT step, trace_index, log_w_raw, w, version, w_clamped, mass, batch_index, batch_w FROM weight_snapshots WHERE run_id = ? AND step = ?'),

    insertCkpt: db.prepare('INSERT INTO checkpoints (run_id, step, spec, tensors, metrics, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
    ckptById: db.prepare<[number], CkptDb & { tensors: Buffer; spec: string }>('SELECT * FROM checkpoints WHERE id = ?'),
    ckptsOf: db.prepare<[number], CkptDb>('SELECT id, run_id, step, metrics, created_at FROM checkpoints WHERE run_id = ? ORDER BY step, id')
  }

  let closed = false
  const requireRun = (runId: number): RunRowDb => {
    const r = q.runById.get(runId)
    if (!r) throw new StoreError(`${file}: there is no run ${runId} in this project; list the runs to see which exist`, file)
    return r
  }

  // Validation, hashing and encoding happen before the write lock is taken (they can take
  // seconds for a large dataset, and a training worker may be waiting to log metrics); the
  // transaction itself re-checks the hash, so a concurrent import of the same data is caught.
  const putDatasetTx = db.transaction((hash: string, row: () => Record<string, unknown>, imported: Record<string, unknown> | null) => {
    const existing = q.datasetByHash.get(hash)
    const id = existing ? existing.id : Number(q.insertDataset.run({ ...row(), hash }).lastInsertRowid)
    let replacedLogProbs = false
    if (imported) {
      const before = existing ? q.getImported.get(id) : undefined
      replacedLogProbs = !!before && !(before.ref_logp.equals(imported.ref_logp as Buffer) && before.policy_logp.equals(imported.policy_logp as Buffer))
      q.putImported.run({ ...imported, dataset_id: id })
    }
    return { id, hash, created: !existing, replacedLogProbs }
  })
  const putDataset = (ds: TraceDataset, source: string, imported: ImportedLogProbs | null): { id: number; hash: string; created: boolean; replacedLogProbs: boolean } => {
    if (!KINDS.includes(ds.kind)) {
      throw new DatasetError(`dataset "${ds.name}": kind "${String(ds.kind)}" is not one of ${KINDS.join(', ')}`)
    }
    validateDataset(ds)
    const hash = datasetHash(ds)
    const steps = ds.offsets[ds.offsets.length - 1]
    if (imported && (imported.ref.length !== steps || imported.policy.length !== steps)) {
      throw new DatasetError(
        `dataset "${ds.name}": imported log-probs have ${imported.ref.length} (reference) and ${imported.policy.length} (policy) values for ${steps} steps; they must have one per step`
      )
    }
    const lp = imported
      ? {
          ref_logp: toBlob(imported.ref, 'imported reference log-probabilities'),
          policy_logp: toBlob(imported.policy, 'imported policy log-probabilities'),
          tokenizer: imported.tokenizer == null ? null : JSON.stringify(imported.tokenizer),
          created_at: now()
        }
      : null
    const existing = q.datasetByHash.get(hash)
    if (existing && !lp) return { id: existing.id, hash, created: false, replacedLogProbs: false }
    // the row is encoded before the write lock is taken (the transaction re-checks the hash)
    const row = existing ? null : datasetRow(ds, source)
    return putDatasetTx.immediate(hash, () => row ?? datasetRow(ds, source), lp)
  }
  const datasetRow = (ds: TraceDataset, source: string): Record<string, unknown> => {
    let smin = Infinity
    let smax = -Infinity
    for (const s of ds.scores) {
      if (s < smin) smin = s
      if (s > smax) smax = s
    }
    return {
      name: ds.name,
      kind: ds.kind,
      obs_dim: ds.obsDim,
      act_dim: ds.actDim,
      source,
      num_traces: ds.offsets.length - 1,
      num_steps: ds.offsets[ds.offsets.length - 1],
      score_min: smin,
      score_max: smax,
      created_at: now(),
      offsets: toBlob(ds.offsets, 'offsets'),
      obs: toBlob(ds.obs, 'observations'),
      actions: toBlob(ds.actions, 'actions'),
      actions_type: ds.actions instanceof Int32Array ? 'int32' : 'float32',
      mask: toBlob(ds.mask, 'mask'),
      rewards: ds.rewards ? toBlob(ds.rewards, 'rewards') : null,
      scores: toBlob(ds.scores, 'scores'),
      ids: JSON.stringify(ds.ids),
      meta: ds.meta ? JSON.stringify(ds.meta) : null
    }
  }

  const appendMetricsTx = db.transaction((runId: number, rows: MetricPoint[]) => {
    requireRun(runId)
    let last = -1
    for (const m of rows) {
      if (!Number.isInteger(m.step) || m.step < 0) {
        throw new StoreError(`${file}: metric "${m.key}" has step ${m.step}; steps must be whole numbers ≥ 0 (nothing of this batch was stored)`, file)
      }
      q.insertMetric.run(runId, m.step, m.key, Number.isNaN(m.value) ? null : m.value)
      if (m.step > last) last = m.step
    }
    if (last >= 0) q.bumpLastStep.run(last, runId)
  })

  const deleteRunTx = db.transaction((id: number) => {
    const r = requireRun(id)
    if (r.status === 'running' && r.owner_pid !== null && r.owner_pid !== process.pid && ownerGone(owner(r)) === null) {
      throw new StoreError(`${file}: run ${id} ("${r.name}") is still running in process ${r.owner_pid}; cancel it first, then delete it`, file)
    }
    q.deleteRun.run(id)
  })
  const interruptTx = db.transaction((dead: Array<{ r: Candidate; why: string }>) => {
    const done: number[] = []
    const t = now()
    for (const { r, why } of dead) {
      const text = `the run was left ${r.status}: ${why}; resume it from its last checkpoint (iwsft resume ${r.id}) or start it again`
      if (q.interrupt.run(t, text, r.id, r.owner_pid).changes > 0) done.push(r.id)
    }
    return done
  })

  const store: ProjectStore = {
    file,
    ...modelStore(db, file, (message) => new StoreError(message, file)),
    readonly,
    damage,

    close() {
      if (closed) return
      closed = true
      db.close()
    },

    putDataset(ds, source) {
      const { id, hash, created } = putDataset(ds, source, null)
      return { id, hash, created }
    },

    putImportedDataset: putDataset,

    getDataset(id) {
      const r = q.datasetFull.get(id)
      if (!r) throw new StoreError(`${file}: there is no dataset ${id} in this project; list the datasets to see which exist`, file)
      const what = (f: string): string => `dataset ${id} ("${r.name as string}") ${f}`
      const ds: TraceDataset = {
        name: r.name as string,
        kind: r.kind as TraceDataset['kind'],
        obsDim: r.obs_dim as number,
        actDim: r.act_dim as number,
        offsets: fromBlob(r.offsets as Buffer, Int32Array, what('offsets')),
        obs: fromBlob(r.obs as Buffer, Float32Array, what('observations')),
        actions: r.actions_type === 'int32' ? fromBlob(r.actions as Buffer, Int32Array, what('actions')) : fromBlob(r.actions as Buffer, Float32Array, what('actions')),
        mask: fromBlob(r.mask as Buffer, Uint8Array, what('mask')),
        scores: fromBlob(r.scores as Buffer, Float64Array, what('scores')),
        ids: JSON.parse(r.ids as string) as string[]
      }
      if (r.rewards !== null) ds.rewards = fromBlob(r.rewards as Buffer, Float32Array, what('rewards'))
      if (r.meta !== null) ds.meta = JSON.parse(r.meta as string) as Record<string, unknown>[]
      return ds
    },

    findDataset(nameOrId) {
      const key = nameOrId.trim()
      if (/^\d+$/.test(key)) {
        const byId = q.summaryById.get(Number(key))
        if (byId) return toSummary(byId)
      }
      const byName = q.summaryByName.get(nameOrId) ?? (key !== nameOrId ? q.summaryByName.get(key) : undefined)
      return byName ? toSummary(byName) : null
    },

    listDatasets() {
      return q.listDatasets.all().map(toSummary)
    },

    deleteDataset(id) {
      if (q.deleteDataset.run(id).changes === 0) {
        throw new StoreError(`${file}: there is no dataset ${id} to delete; list the datasets to see which exist`, file)
      }
    },

    savePreset(datasetId, name, curation) {
      const parsed = CurationSchema.safeParse(curation)
      if (!parsed.success) {
        const why = parsed.error.issues.map((i) => `${i.path.join('.') || 'curation'}: ${i.message}`).join('; ')
        throw new StoreError(`${file}: preset "${name}" has an invalid curation (${why}); fix the curation settings and save again`, file)
      }
      if (!name.trim()) throw new StoreError(`${file}: a preset needs a name; give it one and save again`, file)
      if (!q.summaryById.get(datasetId)) {
        throw new StoreError(`${file}: cannot save preset "${name}": there is no dataset ${datasetId}; import the dataset first`, file)
      }
      q.upsertPreset.run(datasetId, name, JSON.stringify(parsed.data), now())
      return toPreset(q.presetByName.get(datasetId, name)!)
    },

    listPresets(datasetId) {
      return (datasetId === undefined ? q.presetsAll.all() : q.presetsOf.all(datasetId)).map(toPreset)
    },

    getImportedLogProbs(datasetId) {
      const r = q.getImported.get(datasetId)
      if (!r) return null
      return {
        ref: fromBlob(r.ref_logp, Float32Array, `imported reference log-probabilities of dataset ${datasetId}`),
        policy: fromBlob(r.policy_logp, Float32Array, `imported policy log-probabilities of dataset ${datasetId}`),
        tokenizer: r.tokenizer === null ? null : (JSON.parse(r.tokenizer) as unknown)
      }
    },

    getRefLogProbs(refKey, dataHash) {
      const r = q.getRef.get(refKey, dataHash)
      return r ? fromBlob(r.logp, Float32Array, `reference log-probabilities "${refKey}" for data ${dataHash}`) : null
    },

    putRefLogProbs(refKey, dataHash, logp) {
      q.putRef.run(refKey, dataHash, toBlob(logp, `reference log-probabilities "${refKey}"`), now())
    },

    createRun(r) {
      const res = q.insertRun.run({
        name: r.name,
        group_name: r.group ?? r.config.group ?? null,
        method: r.config.method,
        seed: r.config.seed,
        backend: r.backend,
        dataset_id: r.datasetId,
        data_hash: r.dataHash,
        config: JSON.stringify(r.config),
        versions: JSON.stringify(r.versions),
        owner_pid: me.pid,
        owner_start: me.start,
        owner_host: me.host,
        created_at: now()
      })
      return Number(res.lastInsertRowid)
    },

    setRunStatus(runId, status, error) {
      if (!RUN_STATUSES.includes(status)) {
        throw new StoreError(`${file}: "${String(status)}" is not a run status (one of ${RUN_STATUSES.join(', ')})`, file)
      }
      requireRun(runId)
      if (status === 'running') {
        q.setRunning.run(me.pid, me.start, me.host, now(), runId)
        if (error != null) q.setStatusErr.run('running', null, error, runId)
      } else {
        const ended = TERMINAL.has(status) ? now() : null
        if (error === undefined) q.setStatus.run(status, ended, null, runId)
        else q.setStatusErr.run(status, ended, error, runId)
      }
    },

    setRunBackend(runId, backend) {
      requireRun(runId)
      q.setBackend.run(backend, runId)
    },

    setRunVersions(runId, versions) {
      requireRun(runId)
      q.setVersions.run(JSON.stringify(versions), runId)
    },

    appendMetrics(runId, rows) {
      appendMetricsTx.immediate(runId, rows)
    },

    putWeightSnapshot(runId, snap) {
      const n = snap.traceIndex.length
      const lengths = [snap.logWRaw.length, snap.w.length, snap.wClamped?.length ?? n, snap.mass?.length ?? n]
      if (lengths.some((l) => l !== n) || (snap.batch && snap.batch.traceIndex.length !== snap.batch.w.length)) {
        throw new StoreError(
          `${file}: weight snapshot at step ${snap.step} of run ${runId} has ${n} trace indices, ${snap.logWRaw.length} raw log-weights, ${snap.w.length} weights${snap.wClamped ? `, ${snap.wClamped.length} clamped weights` : ''}${snap.mass ? `, ${snap.mass.length} sampling masses` : ''}${snap.batch ? ` and a batch of ${snap.batch.traceIndex.length} rows with ${snap.batch.w.length} weights` : ''}; they must have equal lengths`,
          file
        )
      }
      requireRun(runId)
      const opt = (a: Int32Array | Float32Array | undefined, what: string): Buffer | null => (a ? toBlob(a, what) : null)
      q.putSnap.run(
        runId,
        snap.step,
        toBlob(snap.traceIndex, 'trace indices'),
        toBlob(snap.logWRaw, 'raw log-weights'),
        toBlob(snap.w, 'weights'),
        snap.version ?? 1,
        opt(snap.wClamped, 'clamped weights'),
        opt(snap.mass, 'sampling masses'),
        opt(snap.batch?.traceIndex, 'batch trace indices'),
        opt(snap.batch?.w, 'batch weights')
      )
    },

    putCheckpoint(runId, step, tensors, spec, metrics) {
      requireRun(runId)
      const blob = encodeTensors(tensors)
      const res = q.insertCkpt.run(runId, step, JSON.stringify(spec ?? null), blob, JSON.stringify(metrics), now())
      return Number(res.lastInsertRowid)
    },

    getCheckpoint(id) {
      const r = q.ckptById.get(id)
      if (!r) throw new StoreError(`${file}: there is no checkpoint ${id} in this project; list the run's checkpoints to see which exist`, file)
      return { row: toCkpt(r), tensors: decodeTensors(r.tensors, `checkpoint ${id}`), spec: JSON.parse(r.spec) as unknown }
    },

    listCheckpoints(runId) {
      return q.ckptsOf.all(runId).map(toCkpt)
    },

    listRuns() {
      return q.listRuns.all().map(toRun)
    },

    getRun(id) {
      const r = q.runById.get(id)
      return r ? toRun(r) : null
    },

    deleteRun(id) {
      // checked and deleted under one write lock: a run cannot start between the two; its
      // metrics, snapshots, checkpoints and artifacts go with it (ON DELETE CASCADE)
      deleteRunTx.immediate(id)
    },

    renameRun(id, name) {
      const clean = name.trim()
      if (!clean || clean.length > 200) throw new StoreError(`${file}: a run's name must be 1 to 200 characters, got ${clean.length}`, file)
      requireRun(id)
      q.renameRun.run(clean, id)
    },

    getBcReference(key) {
      const r = q.getBcRef.get(key)
      return r ? { tensors: decodeTensors(r.tensors, `BC reference ${key}`), trainMs: r.train_ms } : null
    },

    putBcReference(r) {
      q.putBcRef.run({
        key: r.key,
        data_hash: r.dataHash,
        data_label: r.dataLabel,
        settings: JSON.stringify(r.settings),
        backend: r.backend,
        tensors: encodeTensors(r.tensors),
        train_ms: Math.round(r.trainMs),
        created_at: now()
      })
    },

    listBcReferences(): BcReferenceRow[] {
      return q.listBcRefs.all().map((r) => ({
        key: r.key,
        dataHash: r.data_hash,
        dataLabel: r.data_label,
        settings: JSON.parse(r.settings) as unknown,
        backend: r.backend,
        trainMs: r.train_ms,
        createdAt: r.created_at
      }))
    },

    getMetrics(runId, keys) {
      const rows = keys === undefined ? q.metricsAll.all(runId) : keys.flatMap((k) => q.metricsOfKey.all(runId, k))
      return rows.map((m) => ({ step: m.step, key: m.key, value: m.value === null ? NaN : m.value }))
    },

    getMetricsAfter(runId, afterStep) {
      return q.metricsAfter.all(runId, afterStep).map((m) => ({ step: m.step, key: m.key, value: m.value === null ? NaN : m.value }))
    },

    runStates() {
      return q.runStates
        .all()
        .map((r) => ({ id: r.id, name: r.name, group: r.group_name, status: r.status, lastStep: r.last_step, ownerPid: r.owner_pid, startedAt: r.started_at, error: r.error }))
    },

    datasetIds() {
      return q.datasetIds.all().map((r) => r.id)
    },

    dataVersion() {
      return db.pragma('data_version', { simple: true }) as number
    },

    metricKeys(runId) {
      return q.metricKeys.all(runId).map((r) => r.key)
    },

    listSnapshotSteps(runId) {
      return q.snapSteps.all(runId).map((r) => r.step)
    },

    getWeightSnapshot(runId, step) {
      const r = q.getSnap.get(runId, step)
      if (!r) return null
      const what = `weight snapshot of run ${runId} at step ${step}`
      return {
        step: r.step,
        traceIndex: fromBlob(r.trace_index, Int32Array, `${what}: trace indices`),
        logWRaw: fromBlob(r.log_w_raw, Float32Array, `${what}: raw log-weights`),
        w: fromBlob(r.w, Float32Array, `${what}: weights`),
        version: r.version === 2 ? 2 : 1,
        ...(r.w_clamped ? { wClamped: fromBlob(r.w_clamped, Float32Array, `${what}: clamped weights`) } : {}),
        ...(r.mass ? { mass: fromBlob(r.mass, Float32Array, `${what}: sampling masses`) } : {}),
        batch:
          r.batch_index && r.batch_w
            ? { traceIndex: fromBlob(r.batch_index, Int32Array, `${what}: batch trace indices`), w: fromBlob(r.batch_w, Float32Array, `${what}: batch weights`) }
            : null
      } satisfies WeightSnapshot
    },

    markInterrupted() {
      if (readonly) return []
      const dead = q.candidates.all().flatMap((r) => {
        const why = ownerGone(owner(r))
        return why === null ? [] : [{ r, why }]
      })
      if (dead.length === 0) return []
      return interruptTx.immediate(dead)
    },

    markRunInterrupted(runId, why) {
      const r = requireRun(runId)
      if (r.status !== 'running' && r.status !== 'queued') {
        throw new StoreError(`${file}: run ${runId} is ${r.status}, not running or queued; only a run stuck as running can be marked interrupted`, file)
      }
      q.interrupt.run(now(), why, runId, r.owner_pid)
    }
  }

  // Every method: refuse after close (and writes to a damaged file), let a run's writes wait out
  // a busy database, and turn driver errors into messages naming the file.
  const guarded = { file, readonly, damage } as ProjectStore
  const retryLimit = opts.runWriteRetryMs ?? Infinity
  for (const key of Object.keys(store) as Array<keyof ProjectStore>) {
    const fn = store[key]
    if (typeof fn !== 'function') continue
    const name = String(key)
    const waitsForLock = RUN_WRITES.has(name)
    ;(guarded as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      if (closed && name !== 'close') throw new StoreError(`${file}: the project was closed; open it again`, file)
      if (damage !== null && WRITES.has(name)) throw damagedError(file, `${file}: cannot ${describe(name)}: the file is damaged and was opened read-only`)
      const call = (): unknown => (fn as (...a: unknown[]) => unknown).apply(store, args)
      try {
        return waitsForLock ? retryBusy(call, retryLimit, (ms) => opts.onBusy?.(describe(name), ms)) : call()
      } catch (e) {
        throw wrapError(e, file, describe(name))
      }
    }
  }
  return guarded
}

interface PresetDb {
  id: number
  dataset_id: number
  name: string
  curation: string
  created_at: string
}
const toPreset = (r: PresetDb): PresetRow => ({
  id: r.id,
  datasetId: r.dataset_id,
  name: r.name,
  curation: JSON.parse(r.curation) as Curation,
  createdAt: r.created_at
})

interface CkptDb {
  id: number
  run_id: number
  step: number
  metrics: string
  created_at: string
}
const toCkpt = (r: CkptDb): CheckpointRow => ({
  id: r.id,
  runId: r.run_id,
  step: r.step,
  createdAt: r.created_at,
  metrics: JSON.parse(r.metrics) as Record<string, number>
})

/** "putDataset" → "put dataset", for error messages. */
const describe = (method: string): string => method.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`)

export { SCHEMA_VERSION, MIGRATIONS, APPLICATION_ID }
