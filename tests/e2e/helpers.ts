// Shared by the browser tests: a fresh project and back end per suite, and Debian's Chromium
// driven by playwright-core with the launch flags from environment.md. The back end is either
// `iwsft serve`'s server in-process (startFixture: the test can call its services directly) or
// the one the desktop shell starts in a Node child process (startShellFixture: the shell runs
// with a stand-in Electron, and each page gets a window.api whose calls go to the shell's own
// IPC handlers, with the page's real URL as the sender: the token hand-over as in the window).
// Either way the test reads the same project database the UI shows.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolve } from 'node:path'
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeEach, expect } from 'vitest'
import { fromTraces, type TraceDataset } from '../../src/main/common/trace.ts'
import { Rng } from '../../src/main/engine/rng.ts'
import { buildRenderer, RENDERER_OUT, rendererStale } from '../../src/main/cli/commands/serve.ts'
import { startBackend } from '../../src/main/electron/backend-process.ts'
import { runShell } from '../../src/main/electron/shell.ts'
import { startServer, type RunningServer } from '../../src/main/services/http-server.ts'
import { memoryRecentList } from '../../src/main/services/recent.ts'
import { openProject, type ProjectStore } from '../../src/main/store/index.ts'
import { fakeElectron } from '../integration/shell-stand-in.ts'

export const CHROMIUM = process.env.IWSFT_CHROMIUM ?? '/usr/bin/chromium'
export const hasChromium = existsSync(CHROMIUM)

export const SCREENSHOT_DIR = process.env.IWSFT_SCREENSHOTS ?? join(tmpdir(), 'iwsft-e2e-screenshots')

export interface Fixture {
  dir: string
  project: string
  /** the page to open: a tab's link (token after #), or the desktop window's address */
  url: string
  /** http://127.0.0.1:PORT */
  origin: string
  /** the in-process server (startFixture only) */
  server?: RunningServer
  /** what a page needs before it opens `url` (the shell's window.api) */
  preparePage?(page: Page): Promise<void>
  browser: Browser
  close(): Promise<void>
}

/** playwright gives every launch a fresh temporary profile (the fresh --user-data-dir). */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
}

/** A new project (with the built-in datasets) served on a free port. With `browser`, that
 *  Chromium is used and left open on close; without, one is launched and closed with it.
 *  `allowDirs`: folders the page may name besides the project's (`iwsft serve --allow-dir`). */
export async function startFixture(opts: { browser?: Browser; allowDirs?: string[] } = {}): Promise<Fixture> {
  if (rendererStale()) await buildRenderer(() => {})
  const dir = mkdtempSync(join(tmpdir(), 'iwsft-e2e-'))
  const project = join(dir, 'e2e.iwsft')
  const server = await startServer({ projectFile: project, port: 0, rendererDir: RENDERER_OUT, uploadRoot: join(dir, 'uploads'), allowDirs: opts.allowDirs })
  const browser = opts.browser ?? (await launchChromium())
  mkdirSync(SCREENSHOT_DIR, { recursive: true })
  return {
    dir,
    project,
    url: server.url,
    origin: server.origin,
    server,
    browser,
    close: async () => {
      if (!opts.browser) await browser.close().catch(() => {})
      await server.close().catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** A new project whose back end the desktop shell starts (a Node child process running `iwsft
 *  serve`), with a stand-in Electron; pages open the shell's window address and get the token
 *  from window.api, which calls the shell's IPC handlers as the page at its real URL. */
export async function startShellFixture(opts: { browser?: Browser } = {}): Promise<Fixture> {
  if (rendererStale()) await buildRenderer(() => {})
  const dir = mkdtempSync(join(tmpdir(), 'iwsft-e2e-shell-'))
  const project = join(dir, 'e2e.iwsft')
  const home = join(dir, 'home')
  mkdirSync(home)
  const fake = fakeElectron()
  const root = resolve(import.meta.dirname, '../..')
  const shell = runShell(fake.electron, {
    root,
    preload: join(root, 'out', 'preload', 'index.cjs'),
    argv: ['--project', project],
    findNode: () => process.execPath,
    startBackend: (b) => startBackend({ ...b, env: { IWSFT_HOME: home } }),
    recent: memoryRecentList(),
    log: () => {}
  })
  await shell.ready
  const backend = shell.backend()
  if (!backend) throw new Error(`the shell did not start its back end: ${decodeURIComponent(fake.win().url)}`)
  const browser = opts.browser ?? (await launchChromium())
  mkdirSync(SCREENSHOT_DIR, { recursive: true })
  return {
    dir,
    project,
    url: fake.win().url,
    origin: backend.info.origin,
    browser,
    preparePage: async (page) => {
      // what src/preload/index.ts exposes, carried to the shell's ipcMain handlers
      await page.exposeBinding('__iwsftIpc', ({ frame }, channel: string, ...args: unknown[]) => fake.invoke(channel, { url: frame.url(), subframe: frame.parentFrame() !== null }, ...args))
      await page.addInitScript(
        "window.api = { token: () => window.__iwsftIpc('iwsft:token'), pickFile: (kind) => window.__iwsftIpc('iwsft:pick', kind), restartBackend: () => window.__iwsftIpc('iwsft:restart') }"
      )
    },
    close: async () => {
      if (!opts.browser) await browser.close().catch(() => {})
      fake.app.quit()
      await backend.stop().catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Start runs through the services (what the app's launch button calls) and wait for each
 *  one's `run.end` event; fails unless every run completed. Returns the run ids, by seed. */
export async function runToEnd(fx: Fixture, config: Record<string, unknown>, seeds: number[], group?: string): Promise<number[]> {
  if (!fx.server) throw new Error('runToEnd needs the in-process server (startFixture)')
  const ended = new Map<number, string>()
  let ids: number[] | null = null
  let allEnded: () => void = () => {}
  const done = new Promise<void>((resolve) => (allEnded = resolve))
  const check = (): void => {
    if (ids && ids.every((id) => ended.has(id))) allEnded()
  }
  const off = fx.server.services.subscribe((event, payload) => {
    if (event !== 'run.end') return
    const p = payload as { runId: number; status: string; error?: string }
    ended.set(p.runId, p.error ? `${p.status}: ${p.error}` : p.status)
    check()
  })
  try {
    ids = ((await fx.server.services.call('runs.start', { config, seeds, ...(group ? { group } : {}) })) as { runIds: number[] }).runIds
    check()
    await done
  } finally {
    off()
  }
  const bad = ids.filter((id) => ended.get(id) !== 'completed')
  if (bad.length) throw new Error(`runs did not complete: ${bad.map((id) => `${id} ${ended.get(id)}`).join(', ')}`)
  return ids
}

/** Wait until the page has painted twice more (a view's charts drawn), for screenshots. */
export async function settled(page: Page): Promise<void> {
  await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))')
}

/** A screenshot of the settled page as SCREENSHOT_DIR/NAME.png (the viewport, or the whole page). */
export async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  await settled(page)
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage })
}

/** The trimmed text of the first element with this test id. */
export async function testIdText(page: Page, testId: string): Promise<string> {
  return (await page.getByTestId(testId).first().innerText()).trim()
}

/** Open the project file (read-only unless told), give it to `f`, close it. */
export function withProjectFile<T>(file: string, f: (s: ProjectStore) => T, readonly = true): T {
  const s = openProject(file, { readonly })
  try {
    return f(s)
  } finally {
    s.close()
  }
}

/** How a page of the app opens: its browser context's options (viewport, colour scheme,
 *  permissions), what to do to it before it loads (`prepare`, e.g. listen for its requests), and
 *  the test id of an element to wait for once it has loaded (`ready`). */
export interface OpenOptions extends BrowserContextOptions {
  prepare?(page: Page): void | Promise<void>
  ready?: string
}

/** A new page of the app at `url`, in a context of its own (closing the page closes it), whose page
 *  errors and console errors are pushed to `errors` (each test asserts unexpectedErrors(errors) is
 *  empty when it ends). The viewport is 1280 × 800 unless `opts` says otherwise. */
export async function openApp(browser: Browser, url: string, errors: string[], opts: OpenOptions = {}): Promise<Page> {
  const { prepare, ready, ...context } = opts
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, ...context })
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`))
  page.on('console', (m) => void (m.type() === 'error' && errors.push(`console: ${m.text()}`)))
  await prepare?.(page)
  await page.goto(url)
  if (ready) await page.getByTestId(ready).waitFor()
  return page
}

/** The collected errors a test did not provoke (a 4xx answer is a tested refusal, not a fault). */
export function unexpectedErrors(errors: string[]): string[] {
  return errors.filter((e) => !/status of 4\d\d/.test(e))
}

/** One suite's project, back end and app pages. `start` (in the suite's beforeAll) makes the
 *  project and back end, with a Chromium of their own (startFixture); `open` opens a page of the
 *  app on them (openApp, with the shell's window.api where the fixture has one). */
export interface AppSuite {
  start(opts?: { allowDirs?: string[] }): Promise<Fixture>
  open(opts?: OpenOptions): Promise<Page>
}

/** The app of a suite, with the suite's hooks: after each test, no unexpected page errors and the
 *  pages opened for that test (in it or in a beforeEach) closed; after all, the pages opened in
 *  beforeAll and the fixture closed (whatever set-up got as far as making). Call it in the suite
 *  before the suite's own hooks. */
export function appSuite(): AppSuite {
  let fx: Fixture | undefined
  let inTest = false
  const errors: string[] = []
  const suitePages: Page[] = []
  const testPages: Page[] = []
  const closeAll = async (pages: Page[]): Promise<void> => {
    for (const page of pages.splice(0)) await page.close().catch(() => {})
  }
  beforeEach(() => {
    inTest = true
  })
  afterEach(async () => {
    inTest = false
    await closeAll(testPages)
    expect(unexpectedErrors(errors.splice(0))).toEqual([])
  })
  afterAll(async () => {
    await closeAll(suitePages)
    await fx?.close()
  })
  return {
    start: async (opts = {}) => (fx = await startFixture(opts)),
    open: async (opts = {}) => {
      if (!fx) throw new Error('appSuite: open() before start()')
      const { preparePage } = fx
      const prepare = async (page: Page): Promise<void> => {
        await preparePage?.(page)
        await opts.prepare?.(page)
      }
      const page = await openApp(fx.browser, fx.url, errors, { ...opts, prepare })
      ;(inTest ? testPages : suitePages).push(page)
      return page
    }
  }
}

/** `traces` random control traces (3 steps, 9-D observations, 3-D actions in (−1, 1)) scored
 *  0 … traces − 1, drawn from Rng(seed): a small continuous dataset for New run and Compare. */
export function randomControl(seed: number, traces: number): TraceDataset {
  const rng = new Rng(seed)
  return fromTraces(
    'tiny-control',
    'continuous',
    3,
    1,
    Array.from({ length: traces }, (_, i) => ({ obs: Array.from({ length: 9 }, () => rng.normal()), actions: Array.from({ length: 3 }, () => Math.tanh(rng.normal())), score: i }))
  )
}

/** The tiny Llama of the real-models fixtures (start fixtures with allowDirs: [LLAMA] to add it). */
export const LLAMA = resolve(__dirname, '../fixtures/llm/hf/llama')

/** Add the tiny Llama as model "llama" and an 8-row Q&A dataset tokenised by it (two rows score
 *  0); returns the dataset's id. */
export async function addLlamaAndQa(fx: Fixture): Promise<number> {
  const services = fx.server!.services
  await services.call('models.add', { path: LLAMA, name: 'llama' })
  const rows = Array.from({ length: 8 }, (_, i) => JSON.stringify({ prompt: `What is ${i} + ${i + 1}?`, completion: `${2 * i + 1}`, score: i % 4 === 3 ? 0 : 1 }))
  const file = join(fx.dir, 'qa.jsonl')
  writeFileSync(file, rows.join('\n') + '\n')
  return (await services.call('datasets.import', { path: file, importId: 'qa', tokenizerModel: 'llama' })).dataset.id
}
