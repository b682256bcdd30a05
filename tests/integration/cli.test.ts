// The `iwsft` command line as a user runs it: a YAML config, a misspelt key (exit 2, the key
// named, nothing written), a run killed with SIGKILL (the database stays consistent and the
// run shows as interrupted on the next open).
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { openProject } from '../../src/main/store/index.ts'

const BIN = resolve(__dirname, '../../bin/iwsft.mjs')
const dir = mkdtempSync(join(tmpdir(), 'iwsft-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const iwsft = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000 })

describe('iwsft CLI', () => {
  it('runs a YAML config and lists the run with its backend', () => {
    const cfg = join(dir, 'quick.yaml')
    writeFileSync(
      cfg,
      ['dataset: bandit', 'method: iw-sft', 'backend: cpu', 'dataset_options: { pulls: 300 }', 'train:', '  steps: 40', '  batch_size: 32', '  log_every: 10', ''].join('\n')
    )
    const r = iwsft(['run', cfg, '--project', 'p.iwsft'])
    expect(r.stderr).not.toMatch(/Error/)
    expect(r.status).toBe(0)
    const runs = JSON.parse(iwsft(['runs', '--json', '--project', 'p.iwsft']).stdout)
    expect(runs).toHaveLength(1)
    expect(runs[0]).toMatchObject({ method: 'iw-sft', status: 'completed', seed: 0, backend: 'cpu' })
    const weights = JSON.parse(iwsft(['weights', String(runs[0].id), '--format', 'json', '--project', 'p.iwsft']).stdout)
    expect(weights.step).toBe(40)
    expect(weights.weights[0]).toHaveProperty('log_w_raw')
    expect(weights.weights[0].bin).toBe(1)
    // the reloaded final checkpoint evaluates to exactly the run's last logged evaluation
    const ev = JSON.parse(iwsft(['eval', String(runs[0].id), '--json', '--project', 'p.iwsft']).stdout)
    const metrics = JSON.parse(iwsft(['metrics', String(runs[0].id), '--keys', 'expected_reward', '--json', '--project', 'p.iwsft']).stdout)
    expect(ev.step).toBe(40)
    expect(ev.metrics.expected_reward).toBeCloseTo(metrics[metrics.length - 1].value, 6)
    expect(iwsft(['eval', String(runs[0].id), '--step', '7', '--project', 'p.iwsft']).stderr).toMatch(/no checkpoint at step 7; saved steps: 40/)
  })

  it('a misspelt key exits 2, names the key and the file, and writes nothing', () => {
    const cfg = join(dir, 'typo.yaml')
    writeFileSync(cfg, 'method: iw-sft\nweights:\n  temperature: 2\n')
    const r = iwsft(['run', cfg, '--project', 'typo.iwsft'])
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('typo.yaml')
    expect(r.stderr).toContain('weights.temperature: unknown key')
    expect(existsSync(join(dir, 'typo.iwsft'))).toBe(false)
  })

  it('invalid YAML names the line', () => {
    const cfg = join(dir, 'broken.yaml')
    writeFileSync(cfg, 'method: iw-sft\ntrain: [1, 2\n')
    const r = iwsft(['run', cfg])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/broken\.yaml: line \d+/)
  })

  it('datasets import stores a D4RL file; a bad file exits non-zero and stores nothing', () => {
    const h5 = resolve(__dirname, '../fixtures/control/d4rl-h5py.hdf5')
    const r = iwsft(['datasets', 'import', h5, '--json', '--project', 'imp.iwsft'])
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!)
    expect(out).toMatchObject({ created: true, kind: 'continuous' })
    expect(out.traces).toBeGreaterThan(0)
    const bad = join(dir, 'bad.jsonl')
    writeFileSync(bad, '{"prompt":"1+1=","completion":"2","score":1}\n{"prompt":"2+2=","completion":"4"}\n')
    const b = iwsft(['datasets', 'import', bad, '--project', 'imp.iwsft'])
    expect(b.status).toBe(1)
    expect(b.stderr).toContain('line 2, field "score": missing')
    const list = JSON.parse(iwsft(['datasets', 'list', '--json', '--project', 'imp.iwsft']).stdout)
    expect(list.map((d: { source: string }) => d.source).sort()).toEqual(['builtin:bandit', `file:${h5}`])
  })

  it('datasets make control --kind takes each dataset kind, and names them when given another', () => {
    const bad = iwsft(['datasets', 'make', 'control', '--kind', 'noisy'])
    expect(bad.status).toBe(2)
    expect(bad.stderr).toContain('--kind takes expert, replay, replay-noisy-v1, got "noisy"')
    const out = join(dir, 'noisy.json')
    const r = iwsft(['datasets', 'make', 'control', '--task', 'pendulum', '--kind', 'replay-noisy-v1', '--quick', '--out', out, '--json', '--cache-dir', join(dir, 'control-cache')])
    expect(r.status, r.stderr).toBe(0)
    const made = JSON.parse(r.stdout) as Array<{ task: string; kind: string }>
    expect(made.map((m) => `${m.task}-${m.kind}`)).toEqual(['pendulum-replay-noisy-v1'])
  }, 120_000)

  it('kill -9 mid-run leaves a consistent database and an interrupted run', async () => {
    const cfg = join(dir, 'long.json')
    writeFileSync(cfg, JSON.stringify({ dataset: 'bandit', backend: 'cpu', dataset_options: { pulls: 300 }, train: { steps: 1_000_000, batch_size: 16, log_every: 5 } }))
    const file = join(dir, 'kill.iwsft')
    const child = spawn(process.execPath, [BIN, 'run', cfg, '--project', file], { cwd: dir, stdio: 'ignore' })
    // wait until metrics are being written
    const t0 = Date.now()
    for (;;) {
      await new Promise((r) => setTimeout(r, 250))
      if (existsSync(file)) {
        const db = new Database(file, { readonly: true, fileMustExist: true })
        const n = (db.prepare('select count(*) n from metrics').get() as { n: number }).n
        db.close()
        if (n > 20) break
      }
      if (Date.now() - t0 > 60_000) throw new Error('the run never logged metrics')
    }
    child.kill('SIGKILL')
    await new Promise((r) => child.on('exit', r))
    const store = openProject(file)
    const runs = store.listRuns()
    expect(runs).toHaveLength(1)
    expect(runs[0].status).toBe('interrupted')
    expect(store.getMetrics(runs[0].id, ['loss']).length).toBeGreaterThan(0)
    store.close()
    const db = new Database(file, { readonly: true })
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    db.close()
  })
})
