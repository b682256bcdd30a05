// `--help` on every command and subcommand (issue 16: `iwsft serve --help` said "unknown
// option"): the command's usage on stdout, exit 0, and nothing opened or written (no project
// file appears in the working folder). `iwsft runs rename|delete` rename and delete a run.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { COMMAND_NAMES, main } from '../../src/main/cli/index.ts'
import { openProject } from '../../src/main/store/index.ts'

const BIN = resolve('bin/iwsft.mjs')
const dir = mkdtempSync(join(tmpdir(), 'iwsft-help-'))
const cwd = process.cwd()
beforeAll(() => process.chdir(dir))
afterAll(() => {
  process.chdir(cwd)
  rmSync(dir, { recursive: true, force: true })
})
afterEach(() => vi.restoreAllMocks())

// Written out by hand: a new command or subcommand must answer --help too
const SUBCOMMANDS: Record<string, string[]> = {
  run: [],
  resume: [],
  eval: [],
  runs: ['rename', 'delete'],
  metrics: [],
  weights: [],
  reproduce: [],
  sweep: [],
  byo: ['import', 'weights', 'follow'],
  export: [],
  report: [],
  bench: [],
  doctor: [],
  backend: ['install', 'status', 'bench'],
  datasets: ['make', 'refs', 'import', 'list'],
  models: ['fetch', 'add', 'list', 'show', 'remove', 'generate', 'score', 'score-dataset', 'weigh'],
  sample: [],
  python: ['install', 'status'],
  launch: [],
  follow: [],
  serve: [],
  project: ['recover']
}

async function capture(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true))
  vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true))
  try {
    return { code: await main(argv), out, err }
  } finally {
    vi.restoreAllMocks()
  }
}

describe('iwsft --help', () => {
  it('knows exactly the commands written out above', () => {
    expect([...COMMAND_NAMES].sort()).toEqual(Object.keys(SUBCOMMANDS).sort())
  })

  it('answers --help and -h on every command and subcommand with its usage, exit 0, writing nothing', async () => {
    for (const [name, subs] of Object.entries(SUBCOMMANDS)) {
      for (const argv of [[name, '--help'], [name, '-h'], ['help', name], ...subs.map((sub) => [name, sub, '--help'])]) {
        const r = await capture(argv)
        expect(r.code, argv.join(' ')).toBe(0)
        expect(r.err, argv.join(' ')).toBe('')
        expect(r.out, argv.join(' ')).toMatch(new RegExp(`^usage: iwsft ${name}\\b`))
        const sub = argv[1] !== '--help' && argv[1] !== '-h' && argv[0] !== 'help' ? argv[1] : null
        // the usage names the subcommand (some share a line: "models list | show MODEL | remove MODEL")
        if (sub) expect(r.out, argv.join(' ')).toMatch(new RegExp(`(iwsft ${name}|\\|) ${sub}\\b`))
      }
    }
    expect(readdirSync(dir)).toEqual([])
  })

  it('`iwsft serve --help` in a real process: usage and exit 0', () => {
    const r = spawnSync(process.execPath, [BIN, 'serve', '--help'], { cwd: dir, encoding: 'utf8', timeout: 60_000 })
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^usage: iwsft serve \[--port N\]/)
    expect(r.stderr).not.toMatch(/unknown option/)
  })

  it('still refuses an unknown command with exit 2', async () => {
    const r = await capture(['frobnicate', '--help'])
    expect(r.code).toBe(2)
    expect(r.err).toContain('unknown command "frobnicate"')
  })
})

describe('iwsft runs rename|delete', () => {
  it('renames a run, refuses to delete without --yes off a terminal, deletes with --yes', async () => {
    const file = join(dir, 'r.iwsft')
    const cfg = join(dir, 'tiny.json')
    writeFileSync(
      cfg,
      JSON.stringify({ dataset: 'bandit', backend: 'cpu', dataset_options: { pulls: 100 }, train: { steps: 20, batch_size: 8, log_every: 10, eval_every: 10, snapshot_every: 20 } })
    )
    expect((await capture(['run', cfg, '--project', file, '--json'])).code).toBe(0)
    const id = openProject(file, { readonly: true }).listRuns()[0].id

    const ren = await capture(['runs', 'rename', String(id), 'my', 'baseline', '--project', file])
    expect(ren.code).toBe(0)
    const s1 = openProject(file, { readonly: true })
    expect(s1.getRun(id)!.name).toBe('my baseline')
    s1.close()
    const noName = await capture(['runs', 'rename', String(id), '--project', file])
    expect(noName.code).toBe(2)
    expect(noName.err).toContain('give the new name')

    // vitest's stdin is not a terminal: no question can be asked
    const refused = await capture(['runs', 'delete', String(id), '--project', file])
    expect(refused.code).toBe(2)
    expect(refused.err).toContain('add --yes')
    const s2 = openProject(file, { readonly: true })
    expect(s2.getRun(id)).not.toBeNull()
    s2.close()
    const del = await capture(['runs', 'delete', String(id), '--yes', '--project', file, '--json'])
    expect(del.code).toBe(0)
    expect(JSON.parse(del.out)).toEqual({ id, deleted: true })
    const s3 = openProject(file, { readonly: true })
    expect(s3.getRun(id)).toBeNull()
    expect(s3.getMetrics(id)).toEqual([])
    s3.close()
    const again = await capture(['runs', 'delete', String(id), '--yes', '--project', file])
    expect(again.code).toBe(2)
    expect(again.err).toContain(`no run ${id}`)
    expect(existsSync(join(dir, 'project.iwsft'))).toBe(false)
  })
})
