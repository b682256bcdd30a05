// The common LLM data layouts recognised without a mapping (s1K, s1K-1.1, prompt/completion,
// messages/chat, TRL's prompt-completion and conversational formats), and the preview the
// app's mapping step shows. Hand-made files; token ids worked out from the byte tokenizer.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { detectMapping, importTextFile, layoutOf, previewTextFile } from '../../src/main/engine/data/import-text.ts'
import { ByteTokenizer } from '../../src/main/engine/text/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'layouts-'))
const byte = new ByteTokenizer()
const jsonl = (name: string, rows: unknown[]): string => {
  const f = join(dir, name)
  writeFileSync(f, rows.map((r) => JSON.stringify(r)).join('\n') + '\n')
  return f
}
/** the text of trace i's prompt (mask 0) and completion (mask 1) steps */
function sides(r: Awaited<ReturnType<typeof importTextFile>>, i: number): { prompt: string; completion: string } {
  const d = r.dataset
  const p: number[] = []
  const c: number[] = []
  for (let s = d.offsets[i]; s < d.offsets[i + 1]; s++) (d.mask[s] ? c : p).push(d.actions[s])
  return { prompt: byte.decode(p), completion: byte.decode(c) }
}

const S1K_11 = [
  'solution',
  'question',
  'cot_type',
  'source_type',
  'metadata',
  'gemini_thinking_trajectory',
  'gemini_attempt',
  'deepseek_thinking_trajectory',
  'deepseek_attempt',
  'gemini_grade',
  'gemini_grade_reason',
  'deepseek_grade',
  'deepseek_grade_reason'
]

describe('layouts recognised by their columns', () => {
  it('s1K-1.1: question → prompt, the DeepSeek trajectory and attempt → completion, graded by deepseek_grade', () => {
    expect(detectMapping(S1K_11)).toEqual({ question: 'question', thinking: 'deepseek_thinking_trajectory', attempt: 'deepseek_attempt', score: 'deepseek_grade' })
    expect(layoutOf(S1K_11)).toBe('s1K-1.1')
  })
  it('s1K: question, thinking_trajectories, attempt', () => {
    const cols = ['solution', 'question', 'cot_type', 'source_type', 'metadata', 'cot', 'thinking_trajectories', 'attempt']
    expect(detectMapping(cols)).toEqual({ question: 'question', thinking: 'thinking_trajectories', attempt: 'attempt' })
    expect(layoutOf(cols)).toBe('s1K')
  })
  it('prompt/completion, messages, ShareGPT conversations, and none', () => {
    expect(detectMapping(['prompt', 'completion'])).toEqual({ prompt: 'prompt', completion: 'completion' })
    expect(layoutOf(['prompt', 'completion'])).toBe('prompt/completion')
    expect(detectMapping(['messages', 'id'])).toEqual({ messages: 'messages', id: 'id' })
    expect(layoutOf(['conversations'])).toBe('messages (chat)')
    expect(layoutOf(['foo', 'bar'])).toBeNull()
  })

  it('imports an s1K-1.1-like file: the grade "Yes"/"No" is the score, the template joins thinking and attempt', async () => {
    const row = (q: string, th: string, at: string, g: string): Record<string, unknown> =>
      Object.fromEntries(S1K_11.map((c) => [c, c === 'question' ? q : c === 'deepseek_thinking_trajectory' ? th : c === 'deepseek_attempt' ? at : c === 'deepseek_grade' ? g : 'x']))
    const f = jsonl('s1k11.jsonl', [row('2+2?', 'think', '4', 'Yes'), row('3+3?', 'hmm', '7', 'No')])
    const r = await importTextFile(f, { tokenizer: byte })
    expect(Array.from(r.dataset.scores)).toEqual([1, 0])
    expect(sides(r, 0)).toEqual({ prompt: '2+2?', completion: 'think\n4' })
  })

  it('imports messages: the last assistant message is the completion, the turns before it the prompt', async () => {
    const f = jsonl('chat.jsonl', [
      {
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'hello' }
        ]
      },
      {
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'q' },
          { role: 'assistant', content: 'a' }
        ]
      },
      {
        conversations: [
          { from: 'human', value: 'x' },
          { from: 'gpt', value: 'y' }
        ]
      }
    ])
    const r = await importTextFile(f, { tokenizer: byte, mapping: { messages: 'messages' }, skipBadRows: true })
    expect(sides(r, 0)).toEqual({ prompt: 'hi', completion: 'hello' })
    expect(sides(r, 1)).toEqual({ prompt: 'system: be brief\nuser: q', completion: 'a' })
    // the third row has no "messages" column: skipped with its line and field
    expect(r.skipped).toEqual([{ line: 3, reason: `file "${f}", line 3, field "messages": missing` }])
    const sg = jsonl('sharegpt.jsonl', [
      {
        conversations: [
          { from: 'human', value: 'x' },
          { from: 'gpt', value: 'y' }
        ]
      }
    ])
    expect(sides(await importTextFile(sg, { tokenizer: byte }), 0)).toEqual({ prompt: 'x', completion: 'y' })
  })

  it('a chat without an assistant message is refused by line and field', async () => {
    const f = jsonl('noasst.jsonl', [{ messages: [{ role: 'user', content: 'hi' }] }])
    await expect(importTextFile(f, { tokenizer: byte })).rejects.toThrow('line 1, field "messages": no message has role "assistant"')
  })

  it("TRL's conversational prompt-completion: prompt and completion columns hold message lists", async () => {
    const f = jsonl('trl.jsonl', [{ prompt: [{ role: 'user', content: 'What color is the sky?' }], completion: [{ role: 'assistant', content: 'Blue.' }] }])
    const r = await importTextFile(f, { tokenizer: byte })
    expect(sides(r, 0)).toEqual({ prompt: 'What color is the sky?', completion: 'Blue.' })
  })
})

describe('preview for the mapping step', () => {
  it('lists the columns and the first rows of a JSONL file, reading no further than it needs', async () => {
    const rows = Array.from({ length: 200 }, (_, i) => ({ q: `q${i}`, a: `a${i}`, extra: [i] }))
    const f = jsonl('many.jsonl', rows)
    const p = await previewTextFile(f, { rows: 3 })
    expect(p.columns).toEqual(['q', 'a', 'extra'])
    expect(p.rows).toEqual(rows.slice(0, 3))
    expect(p.layout).toBeNull()
    expect(p.detected).toEqual({})
  })
  it('reads a CSV header even with a bad row further down', async () => {
    const f = join(dir, 'p.csv')
    writeFileSync(f, 'prompt,completion\nhi,there\nx,y,z\n')
    const p = await previewTextFile(f)
    expect(p.columns).toEqual(['prompt', 'completion'])
    expect(p.rows).toEqual([{ prompt: 'hi', completion: 'there' }])
    expect(p.layout).toBe('prompt/completion')
  })
})
