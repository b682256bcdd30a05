// A config that names a stored dataset by id gets the defaults of that dataset's domain, on the
// command line as in the app (one rule, domainOf): before, `iwsft run` with `dataset: "1"` got
// the control defaults whatever the dataset's kind, and a discrete dataset that was not the
// built-in bandit got them in the app too.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createServices } from '../../src/main/services/index.ts'
import { openProject } from '../../src/main/store/index.ts'

const BIN = resolve(__dirname, '../../bin/iwsft.mjs')
const FIX = resolve(__dirname, '../fixtures/text')
const dir = mkdtempSync(join(tmpdir(), 'iwsft-domain-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const iwsft = (args: string[]) => spawnSync(process.execPath, [BIN, ...args, '--project', 'p.iwsft'], { cwd: dir, encoding: 'utf8', timeout: 180_000 })
const small = { steps: 4, batch_size: 2, log_every: 2, snapshot_every: 2, eval_every: 2 }

describe('iwsft run with a dataset id', () => {
  it('a stored bandit dataset named by id trains with the bandit defaults', () => {
    const list = JSON.parse(iwsft(['datasets', 'list', '--json']).stdout) as Array<{ id: number; source: string }>
    const bandit = list.find((d) => d.source === 'builtin:bandit')!
    const cfg = join(dir, 'bandit-by-id.json')
    writeFileSync(cfg, JSON.stringify({ dataset: String(bandit.id), method: 'sft', backend: 'cpu', train: small }))
    const r = iwsft(['run', cfg, '--json'])
    expect(r.stderr).not.toMatch(/does not fit/)
    expect(r.status).toBe(0)
    const end = JSON.parse(r.stdout.trim().split('\n').pop()!) as { runId: number; status: string }
    expect(end.status).toBe('completed')
    const store = openProject(join(dir, 'p.iwsft'))
    try {
      const c = store.getRun(end.runId)!.config
      expect(c.policy).toEqual({ kind: 'categorical', hidden: [] })
      expect(c.optim.lr).toBe(0.05)
      expect(c.weights.clamp).toEqual([0, 16])
    } finally {
      store.close()
    }
  })

  it('an imported token-sequence dataset named by id trains with the sequence defaults', () => {
    const imp = iwsft(['datasets', 'import', join(FIX, 'byo-logprobs.jsonl'), '--json'])
    expect(imp.status).toBe(0)
    const { id, kind } = JSON.parse(imp.stdout.trim().split('\n').pop()!) as { id: number; kind: string }
    expect(kind).toBe('sequence')
    const cfg = join(dir, 'seq-by-id.yaml')
    writeFileSync(cfg, `dataset: "${id}"\nmethod: sft\nbackend: cpu\ntrain: ${JSON.stringify(small)}\n`)
    const r = iwsft(['run', cfg, '--json'])
    expect(r.status).toBe(0)
    const end = JSON.parse(r.stdout.trim().split('\n').pop()!) as { runId: number }
    const store = openProject(join(dir, 'p.iwsft'))
    try {
      const c = store.getRun(end.runId)!.config
      expect(c.policy.kind).toBe('transformer')
      expect(c.optim).toMatchObject({ kind: 'adamw', betas: [0.9, 0.95] })
      expect(c.train.loss_norm).toBe('token')
    } finally {
      store.close()
    }
  })
})

describe('runs.start / config.validate with a dataset id', () => {
  it('a discrete dataset that is not the built-in bandit gets the bandit defaults; a sequence one the sequence defaults', async () => {
    const traces = join(dir, 'choices.traces.json')
    writeFileSync(
      traces,
      JSON.stringify({
        kind: 'discrete',
        obsDim: 0,
        actDim: 3,
        traces: [
          { actions: [0], score: 1 },
          { actions: [2], score: 0 },
          { actions: [1], score: 1 }
        ]
      })
    )
    const s = await createServices({ projectFile: join(dir, 's.iwsft'), transport: 'cli' })
    try {
      const d = (await s.call('datasets.import', { path: traces, importId: 'a' })).dataset
      expect(d.kind).toBe('discrete')
      const v = await s.call('config.validate', { config: { dataset: String(d.id) } })
      expect(v.ok && v.config.policy.kind).toBe('categorical')
      const seq = (await s.call('datasets.import', { path: join(FIX, 'byo-logprobs.jsonl'), importId: 'b' })).dataset
      const w = await s.call('config.validate', { config: { dataset: seq.name } })
      expect(w.ok && w.config.policy.kind).toBe('transformer')
      // the run starts (a control policy would not fit the discrete data and fail before it)
      const ended = new Promise<{ status: string }>((res) => s.subscribe((e, p) => e === 'run.end' && res(p as { status: string })))
      const { runIds } = await s.call('runs.start', { config: { dataset: String(d.id), backend: 'cpu', train: small }, seeds: [0] })
      expect(runIds).toHaveLength(1)
      expect((await ended).status).toBe('completed')
      // named after the method the config resolved to (the bandit default), not "run"
      expect((await s.call('runs.get', { runId: runIds[0] })).name).toBe(`iw-SFT · ${d.name} · seed 0`)
    } finally {
      await s.shutdown()
    }
  })
})
