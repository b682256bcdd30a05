// Shared by the browser tests: a fresh project and server per suite (the server runs
// in-process, so the test can read the same project database the UI shows), and Debian's
// Chromium driven by playwright-core with the launch flags from environment.md.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { buildRenderer, RENDERER_OUT, rendererStale } from '../../src/main/cli/commands/serve.ts'
import { startServer, type RunningServer } from '../../src/main/services/http-server.ts'

export const CHROMIUM = process.env.IWSFT_CHROMIUM ?? '/usr/bin/chromium'
export const hasChromium = existsSync(CHROMIUM)

export const SCREENSHOT_DIR = process.env.IWSFT_SCREENSHOTS ?? join(tmpdir(), 'iwsft-e2e-screenshots')

export interface Fixture {
  dir: string
  project: string
  server: RunningServer
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
 *  Chromium is used and left open on close; without, one is launched and closed with it. */
export async function startFixture(opts: { browser?: Browser } = {}): Promise<Fixture> {
  if (rendererStale()) await buildRenderer(() => {})
  const dir = mkdtempSync(join(tmpdir(), 'iwsft-e2e-'))
  const project = join(dir, 'e2e.iwsft')
  const server = await startServer({ projectFile: project, port: 0, rendererDir: RENDERER_OUT })
  const browser = opts.browser ?? (await launchChromium())
  mkdirSync(SCREENSHOT_DIR, { recursive: true })
  return {
    dir,
    project,
    server,
    browser,
    close: async () => {
      if (!opts.browser) await browser.close().catch(() => {})
      await server.close().catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Start runs through the services (what the app's launch button calls) and wait for each
 *  one's `run.end` event; fails unless every run completed. Returns the run ids, by seed. */
export async function runToEnd(fx: Fixture, config: Record<string, unknown>, seeds: number[], group?: string): Promise<number[]> {
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
