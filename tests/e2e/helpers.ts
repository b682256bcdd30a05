// Shared by the browser tests: a fresh project and server per suite (the server runs
// in-process, so the test can read the same project database the UI shows), and Debian's
// Chromium driven by playwright-core with the launch flags from environment.md.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
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

export async function startFixture(): Promise<Fixture> {
  if (rendererStale()) await buildRenderer(() => {})
  const dir = mkdtempSync(join(tmpdir(), 'iwsft-e2e-'))
  const project = join(dir, 'e2e.iwsft')
  const server = await startServer({ projectFile: project, port: 0, rendererDir: RENDERER_OUT })
  const browser = await launchChromium()
  mkdirSync(SCREENSHOT_DIR, { recursive: true })
  return {
    dir,
    project,
    server,
    browser,
    close: async () => {
      await browser.close().catch(() => {})
      await server.close().catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
