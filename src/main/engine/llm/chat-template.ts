// Chat templates: the model's own Jinja template (tokenizer.chat_template in GGUF,
// tokenizer_config.json in a Hugging Face folder) rendered with @huggingface/jinja, the
// implementation transformers.js uses. A template that does not parse, or uses a filter, test or
// statement the library lacks, is an error naming the model and the construct, never a silently
// different prompt. The split helpers give the completion-only loss mask of issue 14: which
// tokens of a rendered conversation are the assistant's.
import { Template } from '@huggingface/jinja'
import { LlmError } from './errors.ts'
import type { LlmTokenizer } from './tokenizer.ts'

export interface ChatMessage {
  role: string
  content: string
}

export class ChatTemplate {
  private readonly template: Template

  /** `model` names the model in errors; `specials` are the template's bos_token/eos_token/… */
  constructor(
    readonly source: string,
    readonly model: string,
    private readonly specials: Record<string, string> = {}
  ) {
    try {
      this.template = new Template(source)
    } catch (e) {
      throw new LlmError(`chat template of ${model}: cannot be parsed (${(e as Error).message}); the workbench renders templates with @huggingface/jinja`)
    }
  }

  /** the conversation as text; addGenerationPrompt ends it with the assistant's turn opening */
  render(messages: ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): string {
    for (const [i, m] of messages.entries()) {
      if (!m || typeof m.role !== 'string' || typeof m.content !== 'string') throw new LlmError(`chat messages for ${this.model}: message ${i} needs a string role and content`)
    }
    try {
      return this.template.render({
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: opts.addGenerationPrompt ?? false,
        ...this.specials
      })
    } catch (e) {
      throw new LlmError(`chat template of ${this.model}: rendering failed (${(e as Error).message})`)
    }
  }
}

/** Build a model's chat template, with its special tokens' text as template variables. */
export function chatTemplateFor(source: string, model: string, tok: LlmTokenizer): ChatTemplate {
  const specials: Record<string, string> = {}
  if (tok.bos >= 0) specials.bos_token = tok.specialText(tok.bos)
  if (tok.eos >= 0) specials.eos_token = tok.specialText(tok.eos)
  if (tok.pad >= 0) specials.pad_token = tok.specialText(tok.pad)
  return new ChatTemplate(source, model, specials)
}

/** `messages` rendered and tokenised (no BOS added: the template writes what it wants) */
export function encodeChat(tok: LlmTokenizer, tpl: ChatTemplate, messages: ChatMessage[], addGenerationPrompt: boolean): number[] {
  return tok.encode(tpl.render(messages, { addGenerationPrompt }))
}

/**
 * A prompt (a user message, or a whole conversation so far) and its completion as token ids,
 * the way they are scored and trained: prompt = the conversation rendered with the generation
 * prompt; completion = what rendering the completion as the next assistant message adds (its
 * text and the template's end-of-turn tokens). When the whole conversation tokenises with the
 * prompt's ids as a prefix (the usual case: the boundary is a special token or a newline) the
 * split is taken from it; otherwise the two parts are tokenised separately and concatenated.
 */
export function chatPromptCompletion(tok: LlmTokenizer, tpl: ChatTemplate, prompt: string | ChatMessage[], completion: string): { prompt: number[]; completion: number[] } {
  const msgs = typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : prompt
  const promptText = tpl.render(msgs, { addGenerationPrompt: true })
  const fullText = tpl.render([...msgs, { role: 'assistant', content: completion }], { addGenerationPrompt: false })
  if (!fullText.startsWith(promptText)) {
    throw new LlmError(`chat template of ${tpl.model}: the conversation with the answer does not start with the prompt rendered for generation, so the answer's tokens cannot be told apart`)
  }
  return splitAt(tok, promptText, fullText)
}

/** plain text (no template): the prompt's ids (with BOS when the model adds one) and the completion's */
export function plainPromptCompletion(tok: LlmTokenizer, prompt: string, completion: string): { prompt: number[]; completion: number[] } {
  const r = splitAt(tok, prompt, prompt + completion)
  if (tok.addBos) r.prompt.unshift(tok.bos)
  return r
}

function splitAt(tok: LlmTokenizer, promptText: string, fullText: string): { prompt: number[]; completion: number[] } {
  const p = tok.encode(promptText)
  const full = tok.encode(fullText)
  let prefix = p.length <= full.length
  for (let i = 0; prefix && i < p.length; i++) if (p[i] !== full[i]) prefix = false
  if (prefix) return { prompt: p, completion: full.slice(p.length) }
  return { prompt: p, completion: tok.encode(fullText.slice(promptText.length)) }
}

/**
 * A whole conversation as ids with a mask that is 1 on the assistant's tokens (every assistant
 * turn: its text and the template's end-of-turn tokens) and 0 elsewhere: the completion-only loss
 * mask. Each assistant turn's span runs from the end of the conversation before it, rendered with
 * the generation prompt, to the end of the conversation including it.
 */
export function chatLossMask(tok: LlmTokenizer, tpl: ChatTemplate, messages: ChatMessage[]): { ids: number[]; mask: Uint8Array } {
  const ids: number[] = []
  const mask: number[] = []
  let doneText = ''
  for (let i = 0; i < messages.length; i++) {
    if (messages[i].role !== 'assistant') continue
    const before = tpl.render(messages.slice(0, i), { addGenerationPrompt: true })
    const upto = tpl.render(messages.slice(0, i + 1), { addGenerationPrompt: false })
    if (!before.startsWith(doneText) || !upto.startsWith(before)) {
      throw new LlmError(`chat template of ${tpl.model}: rendering is not incremental at message ${i} (assistant), so its tokens cannot be masked`)
    }
    const ctx = tok.encode(before.slice(doneText.length))
    const ans = tok.encode(upto.slice(before.length))
    ids.push(...ctx, ...ans)
    for (let k = 0; k < ctx.length; k++) mask.push(0)
    for (let k = 0; k < ans.length; k++) mask.push(1)
    doneText = upto
  }
  const all = tpl.render(messages, { addGenerationPrompt: false })
  if (!all.startsWith(doneText)) throw new LlmError(`chat template of ${tpl.model}: rendering is not incremental, so assistant tokens cannot be masked`)
  const rest = tok.encode(all.slice(doneText.length))
  ids.push(...rest)
  for (let k = 0; k < rest.length; k++) mask.push(0)
  return { ids, mask: Uint8Array.from(mask) }
}
