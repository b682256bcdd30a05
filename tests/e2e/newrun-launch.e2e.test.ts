// End-to-end (issues 18 and 15, the app): New run's new choices in Debian's Chromium. "Run on"
// renders this machine / accelerate / cluster; a config the Python trainer cannot run says why;
// an LLM config shows the back end's launch command, copyable (clipboard, or the selected text
// where there is none); the job folder's field takes errors beside it; writing the folder asks
// before replacing one and then shows the run and follow commands; a Table 4 preset fills the
// form and is recorded in the started run's config; a 2×1 sweep starts a group that Compare
// shows. Screenshots go to $IWSFT_SCREENSHOTS (default <tmp>/iwsft-e2e-screenshots).
//
// Most tests answer launch.emit, .start and .follow for the page (playwright's page.route) and
// check what the page sends and shows; one writes a real job folder through the back end (the
// real launch itself is tests/integration/launch-real.test.ts).
// No test installs the Python environment (gigabytes from the package index).
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page, Request } from 'playwright-core'
import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { LaunchPlan } from '../../src/shared/launch.ts'
import type { RunInfo } from '../../src/shared/contract.ts'
import { hasChromium, CHROMIUM, appSuite, randomControl, screenshot, testIdText, withProjectFile, type Fixture, LLAMA, addLlamaAndQa } from './helpers.ts'

const suite = hasChromium ? describe : describe.skip
const title = hasChromium ? 'New run: Run on, paper presets and sweeps' : `New run: Run on, paper presets and sweeps (skipped: no Chromium at ${CHROMIUM})`

suite(title, () => {
  const app = appSuite()
  let fx: Fixture
  let page: Page
  let llmDataset = 0
  let controlDataset = 0
  let bandit = 0
  /** expect.poll with room for a loaded machine (2 cores shared by every test) */
  const poll = <T>(f: () => T | Promise<T>, opts: { timeout?: number } = {}) => expect.poll(f, { timeout: 30_000, ...opts })
  /** A screenshot of one part of the page (scrolled into view) as SCREENSHOT_DIR/NAME.png. */
  const shot = async (name: string, testId = 'run-on-section'): Promise<void> => {
    await page.getByTestId(testId).evaluate((el) => el.scrollIntoView({ block: 'start' }))
    await screenshot(page, name)
  }
  const text = (testId: string): Promise<string> => testIdText(page, testId)
  const call = <T>(name: string, input: unknown): Promise<T> => fx.server!.services.call(name, input) as Promise<T>
  /** The body of the page's last request of this name, and the back end's answer to it. */
  const lastRequests: Record<string, Request> = {}
  const lastBody = (name: string): Record<string, unknown> => JSON.parse(lastRequests[name].postData() ?? '{}') as Record<string, unknown>
  const active = async (view: string): Promise<boolean> => /\bactive\b/.test((await page.getByTestId(`nav-${view}`).getAttribute('class')) ?? '')

  /** A 2-step bandit run started through the services (a run for Live runs to show). */
  const quickRun = (): Promise<number> =>
    call<{ runIds: number[] }>('runs.start', { config: { dataset: String(bandit), train: { steps: 2, log_every: 1, eval_every: 2, snapshot_every: 2 } }, seeds: [0] }).then(
      (r) => r.runIds[0]
    )
  /** New run with the LLM dataset and the fixture model as a LoRA policy, 4 steps of batch 4. */
  const llmForm = async (): Promise<void> => {
    await page.getByTestId('nav-new-run').click()
    await page.getByTestId('nr-dataset').selectOption(String(llmDataset))
    await page.getByTestId('nr-policy').selectOption('llm')
    await page.getByTestId('llm-policy').waitFor()
    await page.getByTestId('f-train-steps').fill('4')
    await page.getByTestId('f-train-batch_size').fill('4')
  }

  beforeAll(async () => {
    fx = await app.start({ allowDirs: [LLAMA] })
    llmDataset = await addLlamaAndQa(fx)
    controlDataset = withProjectFile(fx.project, (s) => s.putDataset(randomControl(7, 24), 'test').id, false)
    bandit = withProjectFile(fx.project, (s) => s.listDatasets().find((d) => d.source === 'builtin:bandit')!.id)
  }, 180_000)
  beforeEach(async () => {
    page = await app.open({
      viewport: { width: 1280, height: 900 },
      permissions: ['clipboard-read', 'clipboard-write'],
      prepare: (p) =>
        void p.on('request', (r) => {
          const m = /\/api\/([\w.]+)$/.exec(r.url())
          if (m) lastRequests[m[1]] = r
        }),
      ready: 'datasets-table'
    })
  }, 60_000)

  it('Run on renders each choice; a config that is not a language model says why it cannot go to the Python trainer', async () => {
    await page.getByTestId('nav-new-run').click()
    await page.getByTestId('nr-dataset').selectOption(String(bandit))
    // this machine: the engine's Launch, no Run-on panel
    expect(await page.getByTestId('run-on-local').getAttribute('aria-checked')).toBe('true')
    expect(await page.getByTestId('launch').isVisible()).toBe(true)
    expect(await page.getByTestId('run-on-panel-accelerate').count()).toBe(0)

    const expected = (await call<LaunchPlan>('launch.plan', { config: { dataset: String(bandit) } })).unsupported
    expect(expected).toMatch(/policy/)
    for (const choice of ['accelerate', 'cluster'] as const) {
      await page.getByTestId(`run-on-${choice}`).click()
      await page.getByTestId(`run-on-panel-${choice}`).waitFor()
      expect(await page.getByTestId(`run-on-${choice}`).getAttribute('aria-checked')).toBe('true')
      // the engine's Launch gives way to the panel's own button, disabled with the reason
      expect(await page.getByTestId('launch').count()).toBe(0)
      await poll(() => text('run-on-unsupported')).toBe(`Not on the Python trainer: ${expected}`)
      expect(await page.getByTestId(choice === 'accelerate' ? 'ro-start' : 'ro-emit').isDisabled()).toBe(true)
      // no command is offered for a run that cannot go there
      expect(await page.getByTestId('ro-accelerate-command').count()).toBe(0)
      await shot(`newrun-launch-01-${choice}-not-llm`)
    }
    await page.getByTestId('run-on-local').click()
    await page.getByTestId('launch').waitFor()
  })

  it('accelerate: the plan’s command in the box, Copy puts it on the clipboard (or selects it), Start only when the plan allows', async () => {
    await llmForm()
    await page.getByTestId('run-on-accelerate').click()
    await page.getByTestId('ro-procs').fill('2')
    await page.getByTestId('ro-accelerate-command').waitFor()
    // the box shows what the back end plans for the request the page sent
    await poll(() => lastBody('launch.plan').numProcesses).toBe(2)
    const plan = await call<LaunchPlan>('launch.plan', lastBody('launch.plan'))
    expect(plan.unsupported).toBeNull()
    expect(plan.accelerate.command).toMatch(/^npx iwsft launch .* --engine accelerate --num-processes 2 /)
    await poll(() => text('ro-accelerate-command-text')).toBe(plan.accelerate.command)

    await page.getByTestId('ro-accelerate-command-copy').click()
    await poll(() => text('ro-accelerate-command-note')).toBe('copied')
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(plan.accelerate.command)

    // Start follows the plan: enabled only when accelerate is available here, else the reason
    expect(await page.getByTestId('ro-start').isDisabled()).toBe(!plan.accelerate.available)
    if (!plan.accelerate.available) expect(await text('ro-start-reason')).toBe(plan.accelerate.reason)
    // the Python environment: versions when ready, else the problem and the install command
    await page.getByTestId('python-env').waitFor()
    if (plan.python.ready) expect(await text('python-versions')).toContain(`torch ${plan.python.versions.torch}`)
    else {
      expect(await text('python-problem')).toBe(plan.python.problem ?? 'not installed')
      expect(await text('python-install-command-text')).toBe(plan.python.installCommand)
      expect(await text('python-install')).toBe('Install Python environment')
    }
    await shot('newrun-launch-02-accelerate')

    // the launcher is part of the command
    await page.getByTestId('ro-launcher').selectOption('accelerate')
    await poll(() => text('ro-accelerate-command-text')).toContain('--launcher accelerate')
    // a bad number of processes: the error beside the field, Start disabled
    await page.getByTestId('ro-procs').fill('0')
    await poll(() => page.locator('#ro-procs').getAttribute('aria-invalid')).toBe('true')
    expect(await page.getByTestId('ro-start').isDisabled()).toBe(true)
    await shot('newrun-launch-03-accelerate-field-error')

    // where the page has no clipboard, Copy selects the command for Ctrl+C
    await page.getByTestId('ro-procs').fill('1')
    await poll(() => lastBody('launch.plan').numProcesses).toBe(1)
    await poll(() => text('ro-accelerate-command-text')).toContain('--num-processes 1')
    await page.evaluate("Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true })")
    await page.getByTestId('ro-accelerate-command-copy').click()
    await poll(() => text('ro-accelerate-command-note')).toMatch(/^selected/)
    expect(await page.evaluate('window.getSelection().toString()')).toBe(await text('ro-accelerate-command-text'))
  })

  it('a Python environment that is not ready: the problem, the install command and the button', async () => {
    // the machine's venv may be ready or not: the page is shown the plan with it missing
    await page.route('**/api/launch.plan', async (route) => {
      const res = await route.fetch()
      const body = (await res.json()) as { ok: boolean; value?: LaunchPlan }
      if (body.ok && body.value) {
        const python = { ...body.value.python, ready: false, python: null, versions: {}, problem: `no Python environment at ${body.value.python.venv}` }
        body.value = { ...body.value, python, accelerate: { ...body.value.accelerate, available: false, reason: python.problem } }
      }
      await route.fulfill({ response: res, json: body })
    })
    await llmForm()
    await page.getByTestId('run-on-accelerate').click()
    await page.getByTestId('python-problem').waitFor()
    expect(await text('python-problem')).toMatch(/^no Python environment at /)
    expect(await text('python-install-command-text')).toBe('npx iwsft python install')
    expect(await page.getByTestId('python-install').isEnabled()).toBe(true)
    expect(await page.getByTestId('ro-start').isDisabled()).toBe(true)
    expect(await text('ro-start-reason')).toMatch(/^no Python environment at /)
    await shot('newrun-launch-04-python-missing')
    // the same in the dark theme (contrast of the warnings, the command boxes and the segmented control)
    await page.emulateMedia({ colorScheme: 'dark' })
    await shot('newrun-launch-04b-python-missing-dark')
  })

  it('Start sends the config, the processes and the launcher to launch.start and opens Live runs with the run', async () => {
    // the plan says accelerate is available (whatever this machine's venv), launch.start is answered for the page
    await page.route('**/api/launch.plan', async (route) => {
      const res = await route.fetch()
      const body = (await res.json()) as { ok: boolean; value?: LaunchPlan }
      if (body.ok && body.value) body.value = { ...body.value, accelerate: { ...body.value.accelerate, available: true, reason: null } }
      await route.fulfill({ response: res, json: body })
    })
    const runId = await quickRun()
    let sent: Record<string, unknown> | null = null
    await page.route('**/api/launch.start', async (route) => {
      sent = JSON.parse(route.request().postData() ?? '{}') as Record<string, unknown>
      await route.fulfill({ json: { ok: true, value: { runId, dir: join(fx.dir, 'jobs', 'x'), command: 'torchrun …' } } })
    })
    await llmForm()
    await page.getByTestId('nr-seeds').fill('3, 4')
    await page.getByTestId('run-on-accelerate').click()
    await page.getByTestId('ro-procs').fill('2')
    await page.getByTestId('ro-launcher').selectOption('accelerate')
    await poll(() => page.getByTestId('ro-start').isEnabled()).toBe(true)
    expect(await text('ro-start')).toBe('Start on 2 processes')
    await page.getByTestId('ro-start').click()
    await poll(() => active('runs')).toBe(true)
    expect(sent).toMatchObject({ numProcesses: 2, launcher: 'accelerate' })
    const config = sent!.config as { seed: number; policy: { kind: string; model: string }; train: { steps: number } }
    // one run on the Python trainer, with the first of the form's seeds
    expect(config.seed).toBe(3)
    expect(config.policy).toMatchObject({ kind: 'llm', model: 'llama' })
    expect(config.train.steps).toBe(4)
    await poll(() => page.getByTestId(`run-row-${runId}`).count()).toBe(1)
  })

  it('a Table 4 preset fills the form, edits win over it, and the started run records it (runs.get)', async () => {
    await page.getByTestId('nav-new-run').click()
    await page.getByTestId('nr-dataset').selectOption(String(controlDataset))
    await page.getByTestId('nr-paper-preset').selectOption('hopper-medium-replay')
    // the row's values (Table 4: lr 1e-4, 4500 steps, EMA α 0.99, temp 1, normalised) in the form
    await poll(() => page.getByTestId('f-optim-lr').inputValue()).toBe('0.0001')
    expect(await page.getByTestId('f-train-steps').inputValue()).toBe('4500')
    expect(await page.getByTestId('f-weights-temp').inputValue()).toBe('1')
    expect(await page.getByTestId('f-weights-q-kind').inputValue()).toBe('ema')
    expect(await page.getByTestId('f-weights-q-beta').inputValue()).toBe('0.99')
    expect(await page.locator('#f-weights-normalize').isChecked()).toBe(true)
    expect(await text('preset-row-steps')).toBe('steps\t4500\t4500')

    // a quick run: the form's own steps win over the row's, and the table says so
    await page.getByTestId('f-train-steps').fill('4')
    await poll(() => text('preset-row-steps')).toBe('steps\t4500\t4 · your value wins')
    await page.getByTestId('f-reference-kind').selectOption('init')
    await page.getByTestId('f-train-batch_size').fill('8')
    for (const f of ['log_every', 'eval_every', 'snapshot_every']) await page.getByTestId(`f-train-${f}`).fill('2')
    await shot('newrun-launch-05-preset', 'preset-picker')

    const before = withProjectFile(fx.project, (s) => Math.max(0, ...s.listRuns().map((r) => r.id)))
    await page.getByTestId('launch').click()
    await poll(() => active('runs')).toBe(true)
    const id = withProjectFile(fx.project, (s) => s.listRuns().find((r) => r.id > before)?.id)
    expect(id).toBeDefined()
    const run = await call<RunInfo>('runs.get', { runId: id })
    expect(run.config.preset).toBe('hopper-medium-replay')
    expect(run.config.train.steps).toBe(4)
    expect(run.config.optim.lr).toBe(1e-4)
    expect(run.config.weights.q).toEqual({ kind: 'ema', beta: 0.99 })
    expect(run.config.curation).toEqual({ mode: 'quality_bins', cutoffs: [90, 95, 98] })

    // a new row resets the fields it sets (the edited steps too)
    await page.getByTestId('nav-new-run').click()
    await page.getByTestId('nr-dataset').selectOption(String(controlDataset))
    await page.getByTestId('nr-paper-preset').selectOption('walker2d-medium-replay')
    await page.getByTestId('f-train-steps').fill('7')
    await page.getByTestId('nr-paper-preset').selectOption('halfcheetah-expert')
    await poll(() => page.getByTestId('f-train-steps').inputValue()).toBe('4500')
    expect(await page.getByTestId('f-weights-temp').inputValue()).toBe('0.8')
  })

  it('cluster: the folder’s errors beside it; Write job folder asks before replacing, then shows the run and follow commands; Follow opens Live runs', async () => {
    await llmForm()
    await page.getByTestId('run-on-cluster').click()
    await page.getByTestId('ro-emit-command').waitFor()
    const plan = await call<LaunchPlan>('launch.plan', lastBody('launch.plan'))
    expect(await page.getByTestId('ro-dir').getAttribute('placeholder')).toBe(plan.cluster.dir)
    await poll(() => text('ro-emit-command-text')).toBe(plan.cluster.emitCommand)
    await shot('newrun-launch-06-cluster')

    // a folder the app may not use: the back end's error beside the field, nothing to write
    await page.getByTestId('ro-dir').fill('/var/lib/not-for-iwsft')
    await poll(() => page.locator('#ro-dir-err').count()).toBe(1)
    expect(await page.locator('#ro-dir-err').innerText()).toBe('outside the folders the app may use')
    expect(await page.getByTestId('ro-emit').isDisabled()).toBe(true)
    await shot('newrun-launch-07-cluster-dir-error')

    // launch.emit answered for the page: first "exists", then the folder written
    const dir = join(fx.dir, 'jobs', 'llama-job')
    const sent: Array<Record<string, unknown>> = []
    const emitted = {
      dir,
      files: ['job.json', 'config.json', 'data.jsonl', 'slurm.sh'],
      runCommands: [`cd ${dir} && sbatch slurm.sh`, `cd ${dir} && accelerate launch x`],
      followCommand: `npx iwsft follow ${dir}`
    }
    await page.route('**/api/launch.emit', async (route) => {
      sent.push(JSON.parse(route.request().postData() ?? '{}') as Record<string, unknown>)
      await route.fulfill({
        json:
          sent.length === 1
            ? { ok: false, error: { code: 'exists', message: `${dir} already exists. Replace it?`, issues: [{ path: dir, message: 'already exists' }] } }
            : { ok: true, value: emitted }
      })
    })
    await page.getByTestId('ro-dir').fill(dir)
    await poll(() => page.getByTestId('ro-emit').isEnabled()).toBe(true)
    await page.getByTestId('ro-emit').click()
    await poll(() => text('ro-emit-confirm')).toContain(`${dir} already exists. Replace it?`)
    expect(sent[0].dir).toBe(dir)
    expect(sent[0].overwrite).toBeUndefined()
    expect((sent[0].config as { policy: { kind: string } }).policy.kind).toBe('llm')
    await page.getByTestId('ro-emit-overwrite').click()
    await page.getByTestId('ro-emitted').waitFor()
    expect(sent[1]).toMatchObject({ dir, overwrite: true })
    expect(await text('ro-run-command-0-text')).toBe(emitted.runCommands[0])
    expect(await text('ro-run-command-1-text')).toBe(emitted.runCommands[1])
    expect(await text('ro-follow-command-text')).toBe(emitted.followCommand)
    await page.getByTestId('ro-follow-command-copy').click()
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(emitted.followCommand)
    await shot('newrun-launch-08-cluster-written')

    // Follow: launch.follow with the written folder, then Live runs with that run
    const runId = await quickRun()
    let followed: unknown = null
    await page.route('**/api/launch.follow', async (route) => {
      followed = JSON.parse(route.request().postData() ?? '{}')
      await route.fulfill({ json: { ok: true, value: { runId, created: true, status: 'running' } } })
    })
    // a narrow window: the long commands wrap inside their boxes, nothing runs out of the section
    await page.setViewportSize({ width: 900, height: 900 })
    const overflow = await page.getByTestId('run-on-section').evaluate((el) => el.scrollWidth - el.clientWidth)
    expect(overflow).toBe(0)
    await shot('newrun-launch-08b-cluster-written-narrow')

    await page.getByTestId('ro-follow').click()
    await poll(() => active('runs')).toBe(true)
    expect(followed).toEqual({ dir })
  })

  it('cluster: Write job folder writes the folder through the back end, and a second write asks before replacing it', async () => {
    await llmForm()
    await page.getByTestId('run-on-cluster').click()
    const dir = join(fx.dir, 'jobs', 'written')
    await page.getByTestId('ro-dir').fill(dir)
    await poll(() => page.getByTestId('ro-emit').isEnabled()).toBe(true)
    await page.getByTestId('ro-emit').click()
    await page.getByTestId('ro-emitted').waitFor({ timeout: 60_000 })
    const manifest = JSON.parse(readFileSync(join(dir, 'job.json'), 'utf8')) as { format: string; total_steps: number }
    expect(manifest).toMatchObject({ format: 'iwsft-job/1', total_steps: 4 })
    const written = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { policy: { kind: string; model: string } }
    expect(written.policy).toMatchObject({ kind: 'llm', model: 'llama' })
    expect(await text('ro-follow-command-text')).toContain(`follow ${dir}`)
    // the folder is there now: the back end's 'exists' is asked about, Replace writes it again
    await page.getByTestId('ro-emit').click()
    await page.getByTestId('ro-emit-confirm').waitFor()
    await page.getByTestId('ro-emit-overwrite').click()
    await poll(() => page.getByTestId('ro-emit-confirm').count()).toBe(0)
    await page.getByTestId('ro-emitted').waitFor()
    expect(existsSync(join(dir, 'job.json'))).toBe(true)
    await shot('newrun-launch-08c-cluster-written-real')
  })

  it('a sweep: a key the config lacks is refused beside its axis; a 2 × 1 grid of quick bandit runs starts one group that Compare shows', async () => {
    await page.getByTestId('nav-new-run').click()
    await page.getByTestId('nr-dataset').selectOption(String(bandit))
    for (const [f, v] of Object.entries({ steps: '20', log_every: '10', eval_every: '10', snapshot_every: '10' })) await page.getByTestId(`f-train-${f}`).fill(v)
    await page.getByTestId('sweep-toggle').check()
    await page.getByTestId('sweep-panel').waitFor()
    // the engine's Launch gives way to the sweep's own button
    expect(await page.getByTestId('launch').count()).toBe(0)

    // q is "current" for the bandit: weights.q.beta is not one of its settings
    const runsBefore = withProjectFile(fx.project, (s) => s.listRuns().length)
    await page.getByTestId('sweep-key-0').fill('weights.q.beta')
    await page.getByTestId('sweep-values-0').fill('0.9, 0.99')
    await page.getByTestId('sweep-seeds').fill('1')
    await page.getByTestId('sweep-start').click()
    await poll(() => page.getByTestId('sweep-error-0').count()).toBe(1)
    expect(await text('sweep-error-0')).toContain('grid key "weights.q.beta"')
    expect(withProjectFile(fx.project, (s) => s.listRuns().length)).toBe(runsBefore)
    await shot('newrun-launch-09-sweep-key-error')

    await page.getByTestId('sweep-key-0').fill('weights.temp')
    await page.getByTestId('sweep-values-0').fill('1, 3')
    await page.getByTestId('sweep-group').fill('temp sweep')
    await poll(() => text('sweep-count')).toBe('2 grid points × 1 seed = 2 runs')
    await page.getByTestId('sweep-add').click()
    await page.getByTestId('sweep-key-1').fill('optim.lr')
    await page.getByTestId('sweep-values-1').fill('0.05, 0.1, 0.2')
    await page.getByTestId('sweep-seeds').fill('2')
    await poll(() => text('sweep-count')).toBe('6 grid points × 2 seeds = 12 runs')
    await shot('newrun-launch-10-sweep')
    await page
      .getByTestId('sweep-axis-1')
      .getByRole('button', { name: /remove/ })
      .click()
    await page.getByTestId('sweep-seeds').fill('1')
    await poll(() => text('sweep-count')).toBe('2 grid points × 1 seed = 2 runs')

    await page.getByTestId('sweep-start').click()
    await poll(() => active('compare'), { timeout: 30_000 }).toBe(true)
    const group = (): Array<{ id: number; status: string; temp: number }> =>
      withProjectFile(fx.project, (s) =>
        s
          .listRuns()
          .filter((r) => r.group === 'temp sweep')
          .map((r) => ({ id: r.id, status: r.status, temp: r.config.weights.temp }))
      )
    await poll(() => group().map((r) => r.status), { timeout: 120_000 }).toEqual(['completed', 'completed'])
    expect(
      group()
        .map((r) => r.temp)
        .sort()
    ).toEqual([1, 3])
    // Compare has the group: its chip, and both runs picked as they were recorded (no click)
    await page.getByTestId('cmp-group-temp sweep').waitFor({ timeout: 30_000 })
    for (const r of group()) await poll(() => page.getByTestId(`cmp-run-${r.id}`).isChecked()).toBe(true)
    await shot('newrun-launch-11-sweep-compare', 'cmp-picker')
  })
})
