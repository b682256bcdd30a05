// Numbered schema migrations. The schema version is SQLite's `PRAGMA user_version`:
// migration i (1-based) takes a file from version i-1 to version i. Append new migrations to
// the end of the list; never edit one that has shipped.
import type Database from 'better-sqlite3'

export const MIGRATIONS: ReadonlyArray<{ name: string; up: (db: Database.Database) => void }> = [
  {
    name: 'initial schema',
    up: (db) => {
      db.exec(`
        CREATE TABLE project (
          key   TEXT PRIMARY KEY,
          value TEXT NOT NULL
        );

        CREATE TABLE datasets (
          id          INTEGER PRIMARY KEY,
          name        TEXT NOT NULL,
          kind        TEXT NOT NULL CHECK (kind IN ('discrete', 'continuous', 'sequence')),
          hash        TEXT NOT NULL UNIQUE,
          obs_dim     INTEGER NOT NULL,
          act_dim     INTEGER NOT NULL,
          source      TEXT NOT NULL,
          num_traces  INTEGER NOT NULL,
          num_steps   INTEGER NOT NULL,
          score_min   REAL NOT NULL,
          score_max   REAL NOT NULL,
          created_at  TEXT NOT NULL,
          offsets     BLOB NOT NULL,          -- Int32 × (N+1)
          obs         BLOB NOT NULL,          -- Float32 × T·obsDim
          actions     BLOB NOT NULL,          -- actions_type × T (or T·actDim)
          actions_type TEXT NOT NULL CHECK (actions_type IN ('int32', 'float32')),
          mask        BLOB NOT NULL,          -- Uint8 × T
          rewards     BLOB,                   -- Float32 × T, or NULL
          scores      BLOB NOT NULL,          -- Float64 × N
          ids         TEXT NOT NULL,          -- JSON string[]
          meta        TEXT                    -- JSON object[] or NULL
        );
        CREATE INDEX datasets_by_name ON datasets(name, created_at);

        CREATE TABLE presets (
          id          INTEGER PRIMARY KEY,
          dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
          name        TEXT NOT NULL,
          curation    TEXT NOT NULL,          -- JSON Curation
          created_at  TEXT NOT NULL,
          UNIQUE (dataset_id, name)
        );

        CREATE TABLE ref_logprobs (
          id          INTEGER PRIMARY KEY,
          ref_key     TEXT NOT NULL,
          data_hash   TEXT NOT NULL,
          logp        BLOB NOT NULL,          -- Float32 × totalSteps
          created_at  TEXT NOT NULL,
          UNIQUE (ref_key, data_hash)
        );

        CREATE TABLE runs (
          id          INTEGER PRIMARY KEY,
          name        TEXT NOT NULL,
          group_name  TEXT,
          method      TEXT NOT NULL,
          status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled', 'interrupted')),
          seed        INTEGER NOT NULL,
          backend     TEXT,
          dataset_id  INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
          data_hash   TEXT,
          config      TEXT NOT NULL,          -- JSON RunConfig
          versions    TEXT NOT NULL,          -- JSON Record<string, string>
          error       TEXT,
          owner_pid   INTEGER,
          last_step   INTEGER,
          created_at  TEXT NOT NULL,
          started_at  TEXT,
          ended_at    TEXT
        );
        CREATE INDEX runs_by_status ON runs(status);

        -- the primary key is the (run_id, key, step) index
        CREATE TABLE metrics (
          run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          step        INTEGER NOT NULL,
          key         TEXT NOT NULL,
          value       REAL,                   -- NULL stands for NaN
          PRIMARY KEY (run_id, key, step)
        ) WITHOUT ROWID;

        CREATE TABLE weight_snapshots (
          run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          step        INTEGER NOT NULL,
          trace_index BLOB NOT NULL,          -- Int32
          log_w_raw   BLOB NOT NULL,          -- Float32
          w           BLOB NOT NULL,          -- Float32
          PRIMARY KEY (run_id, step)
        );

        CREATE TABLE checkpoints (
          id          INTEGER PRIMARY KEY,
          run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          step        INTEGER NOT NULL,
          spec        TEXT NOT NULL,          -- JSON
          tensors     BLOB NOT NULL,          -- see blobs.ts encodeTensors
          metrics     TEXT NOT NULL,          -- JSON Record<string, number>
          created_at  TEXT NOT NULL
        );
        CREATE INDEX checkpoints_by_run ON checkpoints(run_id, step);

        CREATE TABLE artifacts (
          id          INTEGER PRIMARY KEY,
          run_id      INTEGER REFERENCES runs(id) ON DELETE CASCADE,
          kind        TEXT NOT NULL,
          path        TEXT NOT NULL,
          created_at  TEXT NOT NULL
        );
        CREATE INDEX artifacts_by_run ON artifacts(run_id);
      `)
      db.prepare('INSERT INTO project (key, value) VALUES (?, ?)').run('created_at', new Date().toISOString())
    }
  },
  {
    // Imported log-probs ("bring your own") get a table of their own, one row per dataset,
    // deleted with it. Schema 1 kept them in the reference cache under the keys "byo:ref" and
    // "byo:policy" for the dataset's hash, with the tokenizer's spec appended to the dataset's
    // source ("byo:/path tokenizer={…}"), and empty arrays where a version was deleted; they move
    // here, the source loses the tokenizer suffix, and the byo: cache rows go.
    name: 'imported log-probs table',
    up: (db) => {
      db.exec(`
        CREATE TABLE imported_logprobs (
          dataset_id  INTEGER PRIMARY KEY REFERENCES datasets(id) ON DELETE CASCADE,
          ref_logp    BLOB NOT NULL,          -- Float32 × totalSteps: log π_ref(a_t|s_t)
          policy_logp BLOB NOT NULL,          -- Float32 × totalSteps: log π_policy(a_t|s_t)
          tokenizer   TEXT,                   -- JSON tokenizer spec (to show token text), or NULL
          created_at  TEXT NOT NULL
        );
      `)
      const old = db
        .prepare<[], { id: number; source: string; ref: Buffer; policy: Buffer; created_at: string }>(
          `SELECT d.id, d.source, r.logp AS ref, p.logp AS policy, p.created_at
             FROM datasets d
             JOIN ref_logprobs r ON r.data_hash = d.hash AND r.ref_key = 'byo:ref'
             JOIN ref_logprobs p ON p.data_hash = d.hash AND p.ref_key = 'byo:policy'
            WHERE length(r.logp) > 0 AND length(p.logp) > 0`
        )
        .all()
      const insert = db.prepare('INSERT INTO imported_logprobs (dataset_id, ref_logp, policy_logp, tokenizer, created_at) VALUES (?, ?, ?, ?, ?)')
      const setSource = db.prepare('UPDATE datasets SET source = ? WHERE id = ?')
      for (const r of old) {
        const k = r.source.indexOf(' tokenizer=')
        let tokenizer: string | null = null
        if (r.source.startsWith('byo:') && k >= 0) {
          const spec = r.source.slice(k + ' tokenizer='.length)
          try {
            JSON.parse(spec)
            tokenizer = spec
          } catch {
            tokenizer = null // an unreadable spec: token ids are shown, as before
          }
          setSource.run(r.source.slice(0, k), r.id)
        }
        insert.run(r.id, r.ref, r.policy, tokenizer, r.created_at)
      }
      db.exec(`DELETE FROM ref_logprobs WHERE ref_key IN ('byo:ref', 'byo:policy')`)
    }
  },
  {
    // A run's owner is its pid AND that process's start time and host (process-owner.ts): a pid
    // alone is handed to another process once the owner is gone. Older runs keep NULL here and
    // are judged by their pid, as before.
    name: 'run owner start time and host',
    up: (db) => {
      db.exec(`
        ALTER TABLE runs ADD COLUMN owner_start TEXT;
        ALTER TABLE runs ADD COLUMN owner_host TEXT;
      `)
    }
  },
  {
    // Real language models (issue 13): a model is a record of where its files are (they stay
    // outside the project: hundreds of MB), what it is, and the hash of its bytes, which keys the
    // reference log-probs scored with it. A dataset tokenised by a model's tokenizer records
    // which one (its tokenizer's fingerprint) and whether prompts went through the chat
    // template ('chat'), were plain text ('plain') or came as token ids in its vocabulary ('ids'),
    // so that scoring refuses a model whose tokens would mean something else.
    name: 'models',
    up: (db) => {
      db.exec(`
        CREATE TABLE models (
          id             INTEGER PRIMARY KEY,
          name           TEXT NOT NULL UNIQUE,
          source         TEXT NOT NULL,        -- "file:/abs/path", "folder:/abs/path" or "fetch:<known id>"
          path           TEXT NOT NULL,        -- the .gguf file or the Hugging Face folder
          format         TEXT NOT NULL CHECK (format IN ('gguf', 'hf')),
          architecture   TEXT NOT NULL,
          parameters     INTEGER NOT NULL,
          layers         INTEGER NOT NULL,
          context_length INTEGER NOT NULL,
          vocab_size     INTEGER NOT NULL,
          hash           TEXT NOT NULL UNIQUE, -- sha256 of the model's files in order
          memory_bytes   INTEGER NOT NULL,     -- float32 weights + a scoring batch of 8 × 256
          tokenizer_hash TEXT NOT NULL,        -- fingerprint of the tokenizer (vocabulary, specials, merges)
          info           TEXT NOT NULL,        -- JSON: spec, files (path, bytes, mtime), tensor types, tokenizer, chat template
          created_at     TEXT NOT NULL
        );

        CREATE TABLE dataset_tokenization (
          dataset_id     INTEGER PRIMARY KEY REFERENCES datasets(id) ON DELETE CASCADE,
          tokenizer_hash TEXT NOT NULL,
          template       TEXT NOT NULL CHECK (template IN ('chat', 'plain', 'ids')),
          model_name     TEXT NOT NULL,        -- the model whose tokenizer it was (for messages)
          created_at     TEXT NOT NULL
        );
      `)
    }
  },
  {
    // Trained BC references (reference.kind "bc", issue 16): a control run's π_ref is behaviour
    // cloning on all data for thousands of steps; it is trained once per (data, reference
    // settings, policy shape, seed, backend) and reused by every later run and group. `key` is
    // the sha256 of the settings (engine/experiment.ts BcReferenceSettings, data hash included)
    // and the backend; `data_label` names built-in data by generator and options
    // ("builtin:hopper-expert {"seed":0}") so the app can tell before a run makes the data.
    name: 'bc reference cache',
    up: (db) => {
      db.exec(`
        CREATE TABLE bc_references (
          key         TEXT PRIMARY KEY,
          data_hash   TEXT NOT NULL,
          data_label  TEXT,
          settings    TEXT NOT NULL,          -- JSON BcReferenceSettings
          backend     TEXT NOT NULL,
          tensors     BLOB NOT NULL,          -- see blobs.ts encodeTensors
          train_ms    INTEGER NOT NULL,       -- how long training it took (estimates the next one)
          created_at  TEXT NOT NULL
        );
        CREATE INDEX bc_references_by_data ON bc_references(data_hash);
      `)
    }
  },
  {
    // Weight snapshots keep every stage of the weights (issue 15; WeightSnapshot in
    // common/tensors.ts): version 2 stores w as the loss uses it (normalised under the sampling
    // mass), the clamped w, the mass, and the step's training batch. Rows of version 1 keep
    // their meaning (w normalised over the unique curated traces) and NULL in the new columns.
    name: 'weight snapshot stages',
    up: (db) => {
      db.exec(`
        ALTER TABLE weight_snapshots ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE weight_snapshots ADD COLUMN w_clamped BLOB;   -- Float32 × n
        ALTER TABLE weight_snapshots ADD COLUMN mass BLOB;        -- Float32 × n: sampling mass μ
        ALTER TABLE weight_snapshots ADD COLUMN batch_index BLOB; -- Int32 × B
        ALTER TABLE weight_snapshots ADD COLUMN batch_w BLOB;     -- Float32 × B
      `)
    }
  }
]

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length

/** `PRAGMA application_id` of every project file: "IWSF". Tells our files from other SQLite files. */
export const APPLICATION_ID = 0x49575346

/** Bring the open (read-write) database up to SCHEMA_VERSION. Runs under a write lock so two
 *  processes opening an old file at once do not both migrate it. Returns the version found. */
export function migrate(db: Database.Database, errors: { newer: (found: number) => Error; notOurs: (why: string) => Error }): number {
  const found = db.pragma('user_version', { simple: true }) as number
  if (found === SCHEMA_VERSION) return found
  if (found > SCHEMA_VERSION) throw errors.newer(found)
  let before = found
  db.transaction(() => {
    before = db.pragma('user_version', { simple: true }) as number // re-read under the lock
    if (before > SCHEMA_VERSION) throw errors.newer(before)
    if (before === 0) {
      const n = (db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").get() as { n: number }).n
      if (n > 0) throw errors.notOurs(`a SQLite database with ${n} tables or indexes of its own`)
      db.pragma(`application_id = ${APPLICATION_ID}`)
    }
    for (let v = before; v < SCHEMA_VERSION; v++) {
      MIGRATIONS[v].up(db)
      db.pragma(`user_version = ${v + 1}`)
    }
  }).immediate()
  return before
}
