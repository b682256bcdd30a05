// End-to-end in Chromium (issue 11, issue 16): "skip bad rows" in the Datasets and Imported
// weights import dialogs lists every skipped line; a run stuck as running (its pid now another
// process's) is marked interrupted from the Runs view after a confirmation; a damaged project
// shows a banner saying it is read-only and how to recover it.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig } from '../../src/shared/config.ts'
import { openProject } from '../../src/main/store/index.ts'
import { processStart } from '../../src/main/store/process-owner.ts'
import { buildRenderer, RENDERER_OUT, rendererStale } from '../../src/main/cli/commands/serve.ts'
import { startServer } from '../../src/main/services/http-server.ts'
import { hasChromium, CHROMIUM, appSuite, type Fixture } from './helpers.ts'

const suite = hasChromium ? describe : describe.skip
const title = hasChromium ? 'robust imports and runs in the browser build' : `robust imports and runs in the browser build (skipped: no Chromium at ${CHROMIUM})`

suite(title, () => {
  const app = appSuite()
  let fx: Fixture
  let page: Page | null = null
  const errors: string[] = []
  const open = async (url: string): Promise<Page> => {
    page = await fx.browser.newPage({ viewport: { width: 1280, height: 800 } })
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`))
    await page.goto(url)
    await page.getByTestId('datasets-table').waitFor()
    return page
  }
  let other: ChildProcess
  beforeAll(async () => {
    fx = await app.start()
    other = spawn('sleep', ['600'], { stdio: 'ignore' })
    await new Promise((r) => other.once('spawn', r))
  }, 240_000)
  afterAll(() => {
    other?.kill('SIGKILL')
  })
  afterEach(async () => {
    await page?.close()
    page = null
    expect(errors.splice(0)).toEqual([])
  })

  const mixed = (): string => {
    const f = join(fx.dir, 'mixed.jsonl')
    const good = Array.from({ length: 6 }, (_, i) => JSON.stringify({ prompt: `${i}+1=`, completion: String(i + 1), score: 1 }))
    writeFileSync(f, [...good.slice(0, 3), '{"prompt": "broken', good[3], JSON.stringify({ prompt: 'x', completion: '' }), ...good.slice(4)].join('\n') + '\n')
    return f
  }

  it('Datasets: a bad row refuses the file; with "skip bad rows" the good rows are imported and each skipped line is listed', async () => {
    const p = await open(fx.url)
    const f = mixed()
    await p.getByTestId('file-input').setInputFiles(f)
    await expect.poll(async () => (await p.getByTestId('import-status').innerText()).trim(), { timeout: 60_000 }).toMatch(/line 4: not valid JSON/)
    await p.getByTestId('skip-bad-rows').check()
    await p.getByTestId('file-input').setInputFiles(f)
    await expect.poll(async () => (await p.getByTestId('import-status').innerText()).trim(), { timeout: 60_000 }).toContain('imported 6 traces')
    const skipped = p.getByTestId('skipped-rows')
    await expect.poll(async () => (await skipped.innerText()).trim()).toContain('2 bad rows skipped')
    await skipped.locator('summary').click()
    const items = await skipped.locator('li').allInnerTexts()
    expect(items).toHaveLength(2)
    expect(items[0]).toMatch(/mixed\.jsonl", line 4: not valid JSON/)
    expect(items[1]).toMatch(/mixed\.jsonl", line 6, field "completion": the completion is empty/)
  })

  it('Imported weights: "skip bad rows" imports a log-prob file with a bad line and lists it', async () => {
    const f = join(fx.dir, 'lp.jsonl')
    const row = (s: number): string => JSON.stringify({ tokens: [1, 2], ref_logprobs: [-1, -2], policy_logprobs: [-1, -1], score: s })
    writeFileSync(f, [row(0), '{"tokens": [1, 2], "ref_logprobs": [-1, 0.7], "policy_logprobs": [-1, -1]}', row(1)].join('\n') + '\n')
    const p = await open(fx.url)
    await p.getByTestId('nav-byo').click()
    await p.getByTestId('byo-path').fill(f)
    await p.getByTestId('byo-skip-bad-rows').check()
    await p.getByTestId('byo-import-button').click()
    const skipped = p.getByTestId('skipped-rows')
    await expect.poll(async () => (await skipped.innerText()).trim(), { timeout: 60_000 }).toContain('1 bad row skipped')
    await skipped.locator('summary').click()
    expect(await skipped.locator('li').allInnerTexts()).toEqual([expect.stringMatching(/lp\.jsonl", line 2, field "ref_logprobs": entry 1 is 0\.7/)])
  })

  it('Runs: a run stuck as running in another process gets "Mark interrupted"; after the confirmation it is interrupted', async () => {
    // a run recorded as running by a live process that is not this server (the pid-reuse case
    // the start time cannot rule out here, e.g. a project copied between machines)
    const store = openProject(fx.project)
    const id = store.createRun({ name: 'stuck', config: defaultConfig('bandit'), datasetId: null, dataHash: null, backend: 'cpu', versions: {} })
    store.setRunStatus(id, 'running')
    store.close()
    const db = new Database(fx.project)
    db.prepare('UPDATE runs SET owner_pid = ?, owner_start = ? WHERE id = ?').run(other.pid, processStart(other.pid!), id)
    db.close()
    const p = await open(fx.url)
    await p.getByTestId('nav-runs').click()
    const button = p.getByTestId(`mark-interrupted-${id}`)
    await button.waitFor({ timeout: 30_000 })
    // dismissing the confirmation changes nothing
    p.once('dialog', (d) => void d.dismiss())
    await button.click()
    await new Promise((r) => setTimeout(r, 300))
    expect(readStatus(fx.project, id)).toBe('running')
    let message = ''
    p.once('dialog', (d) => {
      message = d.message()
      void d.accept()
    })
    await button.click()
    await expect.poll(() => readStatus(fx.project, id), { timeout: 30_000 }).toBe('interrupted')
    expect(message).toMatch(/Mark run #\d+ as interrupted\?/)
    expect(message).toContain('Do this only if no process runs it any more')
    await expect.poll(() => p.getByTestId(`mark-interrupted-${id}`).count(), { timeout: 30_000 }).toBe(0)
  })

  it('a damaged project shows a banner: read-only, and how to recover it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iwsft-e2e-hurt-'))
    try {
      const file = join(dir, 'hurt.iwsft')
      const s = openProject(file)
      for (let r = 0; r < 6; r++) {
        const id = s.createRun({ name: `r${r}`, config: defaultConfig('bandit'), datasetId: null, dataHash: null, backend: 'cpu', versions: {} })
        s.appendMetrics(
          id,
          Array.from({ length: 600 }, (_, k) => ({ step: k, key: 'loss', value: 1 / (k + 1) }))
        )
        s.setRunStatus(id, 'completed')
      }
      s.close()
      const db = new Database(file)
      db.pragma('journal_mode = DELETE')
      db.close()
      const size = statSync(file).size
      const fd = openSync(file, 'r+')
      writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, Math.floor(size / 4096 / 2) * 4096)
      closeSync(fd)
      if (rendererStale()) await buildRenderer(() => {})
      const server = await startServer({ projectFile: file, port: 0, rendererDir: RENDERER_OUT })
      try {
        const p = await open(server.url)
        const banner = p.getByTestId('damaged-banner')
        await banner.waitFor({ timeout: 30_000 })
        const t = await banner.innerText()
        expect(t).toContain(`${file} is damaged: PRAGMA quick_check`)
        expect(t).toContain('it was opened read-only, so nothing more is lost')
        expect(t).toContain(`iwsft project recover ${file} --out NEW.iwsft`)
      } finally {
        await page?.close()
        page = null
        await server.close()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

function readStatus(file: string, id: number): string {
  const db = new Database(file, { readonly: true })
  try {
    return (db.prepare('SELECT status FROM runs WHERE id = ?').get(id) as { status: string }).status
  } finally {
    db.close()
  }
}
