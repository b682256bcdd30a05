// The UI benchmark in Chromium: `node --import tsx tests/e2e/bench-ui.ts` prints JSON.
// It opens the browser build at #bench, which runs the app's own code (curate, the inspector's
// histogram builder, the compare view's smoothing and decimation) and plotly on synthetic data
// of the sizes: curation recount of 100,000 traces (< 50 ms), inspector histogram
// redraw of 100,000 weights (< 150 ms), compare view with 20 runs × 5,000 points answering a
// smoothing change (< 100 ms). Exit code 1 when a target is missed.
import { hasChromium, CHROMIUM, startFixture } from './helpers.ts'

if (!hasChromium) {
  process.stderr.write(`bench-ui: no Chromium at ${CHROMIUM} (apt-get install -y chromium)\n`)
  process.exit(2)
}
const fx = await startFixture()
let code = 0
try {
  const page = await fx.browser.newPage({ viewport: { width: 1280, height: 800 } })
  await page.goto(`${fx.origin}/#bench`) // the UI benchmark needs no token: it calls no back end
  await page.waitForFunction(() => (globalThis as { __bench?: unknown }).__bench !== undefined, null, { timeout: 180_000 })
  const result = (await page.evaluate('window.__bench')) as Record<string, unknown>
  const round = (v: unknown): unknown => (typeof v === 'number' ? Math.round(v * 10) / 10 : v)
  const out = Object.fromEntries(Object.entries(result).map(([k, v]) => [k, round(v)]))
  process.stdout.write(JSON.stringify({ browser: await fx.browser.version(), ...out }, null, 2) + '\n')
  if (result.error || result.pass !== true) code = 1
} finally {
  await fx.close()
}
process.exit(code)
