// The tokenizer of a real causal LM, from GGUF metadata (tokenizer.ggml.*) or a Hugging Face
// tokenizer.json + tokenizer_config.json. Byte-level BPE (GPT-2, Llama 3, Qwen2, SmolLM) runs on
// the fast encoder in bpe.ts; any other tokenizer.json (SentencePiece-style Metaspace + byte
// fallback, Mistral, WordPiece …) goes through @huggingface/tokenizers (engine/text/hf.ts).
//
// encode() never adds BOS/EOS: chat templates write their own specials, and `addBos` says whether
// the model expects a BOS in front of plain text (callers that want it prepend `bos`).
import { HfTokenizer } from '../text/hf.ts'
import { ByteLevelBpe, GPT2_PATTERN, toJsRegex, type AddedToken } from './bpe.ts'
import { LlmError } from './errors.ts'
import { metaArray, metaBool, metaNumber, metaString, type GgufHeader } from './gguf.ts'

/** llama.cpp's pre-tokenizer names (tokenizer.ggml.pre) → the regex splits it applies, in order */
const LLAMA3_PATTERN = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
const QWEN2_PATTERN = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
const PRE_TOKENIZERS: Record<string, { patterns: string[]; ignoreMerges?: boolean; addBos?: boolean }> = {
  gpt2: { patterns: [GPT2_PATTERN] },
  'gpt-2': { patterns: [GPT2_PATTERN] },
  mpt: { patterns: [GPT2_PATTERN] },
  olmo: { patterns: [GPT2_PATTERN] },
  // SmolLM, StarCoder …: digits one by one, then GPT-2's regex
  smollm: { patterns: ['\\p{N}', GPT2_PATTERN] },
  starcoder: { patterns: ['\\p{N}', GPT2_PATTERN] },
  refact: { patterns: ['\\p{N}', GPT2_PATTERN] },
  'command-r': { patterns: ['\\p{N}', GPT2_PATTERN] },
  codeshell: { patterns: ['\\p{N}', GPT2_PATTERN] },
  'llama-bpe': { patterns: [LLAMA3_PATTERN], ignoreMerges: true, addBos: true },
  llama3: { patterns: [LLAMA3_PATTERN], ignoreMerges: true, addBos: true },
  'llama-v3': { patterns: [LLAMA3_PATTERN], ignoreMerges: true, addBos: true },
  qwen2: { patterns: [QWEN2_PATTERN] },
  stablelm2: { patterns: [QWEN2_PATTERN] },
  // llama.cpp's fallback when a file names none
  default: { patterns: ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2_PATTERN, '\\p{N}+', '[0-9][0-9][0-9]'] }
}

export const GGUF_PRE_TOKENIZERS = Object.keys(PRE_TOKENIZERS)

/** GGUF token types (llama.cpp) */
const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 }

export interface LlmTokenizerInfo {
  /** 'byte-level-bpe' (this engine's encoder) or 'hf-tokenizers' (@huggingface/tokenizers) */
  engine: 'byte-level-bpe' | 'hf-tokenizers'
  /** GGUF tokenizer.ggml.pre or a description of tokenizer.json's pre-tokenizer */
  preTokenizer: string
  source: string
}

/** One interface over both encoders; matches engine/text's Tokenizer apart from spec(). */
export class LlmTokenizer {
  readonly kind = 'llm'
  readonly vocabSize: number
  /** −1 when the model has none */
  readonly bos: number
  readonly eos: number
  readonly pad: number
  /** the ids that end a turn or a text (eos first) */
  readonly eosIds: number[]
  /** the model expects BOS before plain text (tokenizer metadata) */
  readonly addBos: boolean

  constructor(
    private readonly impl: ByteLevelBpe | HfTokenizer,
    readonly info: LlmTokenizerInfo,
    special: { bos: number | null; eos: number[]; pad: number | null; addBos: boolean },
    /** added/special ids of an @huggingface/tokenizers tokenizer */
    private readonly hfSpecials: Set<number> = new Set()
  ) {
    this.vocabSize = impl.vocabSize
    const check = (id: number | null, what: string): number => {
      if (id === null) return -1
      if (!Number.isInteger(id) || id < 0 || id >= impl.vocabSize) throw new LlmError(`${info.source}: ${what} id ${id} is outside the vocabulary 0..${impl.vocabSize - 1}`)
      return id
    }
    this.bos = check(special.bos, 'BOS')
    this.eosIds = special.eos.map((e) => check(e, 'EOS'))
    this.eos = this.eosIds.length ? this.eosIds[0] : -1
    this.pad = special.pad !== null ? check(special.pad, 'pad') : this.eos
    this.addBos = special.addBos && this.bos >= 0
  }

  /** text → ids; special tokens written in the text are matched; no BOS/EOS added */
  encode(text: string): number[] {
    return this.impl.encode(text)
  }

  /** ids → text; special tokens dropped unless skipSpecial is false */
  decode(ids: ArrayLike<number>, skipSpecial = true): string {
    if (this.impl instanceof ByteLevelBpe) return this.impl.decode(ids, skipSpecial)
    if (skipSpecial) return this.impl.decode(ids)
    // the library drops specials: decode the text between them and spell them out
    let text = ''
    let run: number[] = []
    for (let i = 0; i < ids.length; i++) {
      if (this.hfSpecials.has(ids[i])) {
        text += this.impl.decode(run) + this.impl.tokenText(ids[i])
        run = []
      } else run.push(ids[i])
    }
    return text + this.impl.decode(run)
  }

  /** one token's text for per-token displays */
  tokenText(id: number): string {
    return this.impl.tokenText(id)
  }

  /** the id of a token spelled as in the vocabulary (special tokens: their text) */
  idOf(token: string): number | undefined {
    if (this.impl instanceof ByteLevelBpe) return this.impl.idOf(token)
    const ids = this.impl.encode(token)
    return ids.length === 1 ? ids[0] : undefined
  }

  /** the text of a special token (for chat templates' bos_token / eos_token) */
  specialText(id: number): string {
    if (id < 0) return ''
    if (this.impl instanceof ByteLevelBpe) return this.impl.tokenString(id) ?? ''
    return this.impl.tokenText(id)
  }
}

function compile(patterns: string[], where: string): RegExp[] {
  return patterns.map((p) => {
    const re = toJsRegex(p)
    if (!re) throw new LlmError(`${where}: pre-tokenizer regex ${JSON.stringify(p)} cannot be run here`)
    return re
  })
}

/**
 * The tokenizer stored in a GGUF file's metadata (tokenizer.ggml.model = gpt2), pre-tokenised as
 * the file declares (tokenizer.ggml.pre, as llama.cpp does). `opts.pre` overrides the declared
 * name: transformers' GGUF loader ignores it and always uses GPT-2's regex ('gpt2'), which differs
 * from e.g. SmolLM2's 'smollm' (digits one by one) where whitespace comes before a number.
 */
export function tokenizerFromGguf(h: GgufHeader, opts: { pre?: string } = {}): LlmTokenizer {
  const src = `GGUF file "${h.file}"`
  const model = metaString(h, 'tokenizer.ggml.model')
  if (model === undefined) throw new LlmError(`${src}: has no tokenizer (tokenizer.ggml.model is missing)`)
  if (model !== 'gpt2') {
    throw new LlmError(`${src}: tokenizer model "${model}" is not supported from GGUF metadata (supported: gpt2, byte-level BPE); load the model's Hugging Face folder instead`)
  }
  const tokens = metaArray(h, 'tokenizer.ggml.tokens')
  const merges = metaArray(h, 'tokenizer.ggml.merges')
  if (!tokens || !tokens.every((t) => typeof t === 'string')) throw new LlmError(`${src}: tokenizer.ggml.tokens is missing or not a list of strings`)
  if (!merges || !merges.every((t) => typeof t === 'string')) throw new LlmError(`${src}: tokenizer.ggml.merges is missing or not a list of strings`)
  const types = metaArray(h, 'tokenizer.ggml.token_type') as number[] | undefined
  const preName = opts.pre ?? metaString(h, 'tokenizer.ggml.pre') ?? 'default'
  const pre = PRE_TOKENIZERS[preName]
  if (!pre) throw new LlmError(`${src}: pre-tokenizer "${preName}" (tokenizer.ggml.pre) is not supported (supported: ${GGUF_PRE_TOKENIZERS.join(', ')})`)
  const added: AddedToken[] = []
  if (types) {
    types.forEach((t, id) => {
      if (t === TOKEN_TYPE.CONTROL || t === TOKEN_TYPE.USER_DEFINED) added.push({ content: tokens[id] as string, id, special: t === TOKEN_TYPE.CONTROL })
    })
  }
  const bpe = new ByteLevelBpe({ tokens: tokens as string[], merges: merges as string[], preTokenizer: compile(pre.patterns, src), added, ignoreMerges: pre.ignoreMerges, source: src })
  const id = (k: string): number | null => {
    const v = metaNumber(h, `tokenizer.ggml.${k}`)
    return v === undefined ? null : v
  }
  const eos = [id('eos_token_id'), id('eot_token_id')].filter((x): x is number => x !== null)
  return new LlmTokenizer(
    bpe,
    { engine: 'byte-level-bpe', preTokenizer: preName, source: src },
    {
      bos: id('bos_token_id'),
      eos: [...new Set(eos)],
      pad: id('padding_token_id'),
      addBos: metaBool(h, 'tokenizer.ggml.add_bos_token') ?? pre.addBos ?? false
    }
  )
}

type Json = Record<string, unknown>

const tokenContent = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as Json).content === 'string' ? ((v as Json).content as string) : undefined

/** Pre-tokenizer of a tokenizer.json as regex splits, or null when the fast encoder cannot run it. */
function fastPreTokenizer(pre: unknown): { patterns: string[]; describe: string } | null {
  if (!pre || typeof pre !== 'object') return null
  const p = pre as Json
  switch (p.type) {
    case 'ByteLevel':
      if (p.add_prefix_space === true) return null
      return { patterns: p.use_regex === false ? [] : [GPT2_PATTERN], describe: 'ByteLevel' }
    case 'Split': {
      const pat = p.pattern as Json | undefined
      if (p.behavior !== 'Isolated' || p.invert === true || !pat) return null
      const s = typeof pat.Regex === 'string' ? pat.Regex : typeof pat.String === 'string' ? (pat.String as string).replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : null
      return s === null ? null : { patterns: [s], describe: 'Split' }
    }
    case 'Digits':
      return { patterns: [p.individual_digits ? '\\p{N}' : '\\p{N}+'], describe: 'Digits' }
    case 'Sequence': {
      const parts = (Array.isArray(p.pretokenizers) ? p.pretokenizers : []).map(fastPreTokenizer)
      if (parts.some((x) => x === null)) return null
      return { patterns: parts.flatMap((x) => x!.patterns), describe: parts.map((x) => x!.describe).join('+') }
    }
    default:
      return null
  }
}

/** the parts of tokenizer_config.json the engine uses */
export interface TokenizerConfig {
  bosToken?: string
  eosToken?: string
  padToken?: string
  addBos?: boolean
  chatTemplate?: string
}

export function readTokenizerConfig(cfg: unknown): TokenizerConfig {
  if (!cfg || typeof cfg !== 'object') return {}
  const c = cfg as Json
  let chatTemplate: string | undefined
  if (typeof c.chat_template === 'string') chatTemplate = c.chat_template
  else if (Array.isArray(c.chat_template)) {
    // a list of named templates: the "default" one
    const named = c.chat_template as Array<{ name?: string; template?: string }>
    chatTemplate = (named.find((t) => t.name === 'default') ?? named[0])?.template
  }
  return {
    bosToken: tokenContent(c.bos_token),
    eosToken: tokenContent(c.eos_token),
    padToken: tokenContent(c.pad_token),
    addBos: typeof c.add_bos_token === 'boolean' ? c.add_bos_token : undefined,
    chatTemplate
  }
}

/**
 * The tokenizer of a Hugging Face folder: tokenizer.json (parsed) and tokenizer_config.json
 * (parsed, or {}). `ids` gives the config.json / generation_config.json special ids, which win
 * over names in tokenizer_config.json.
 */
export function tokenizerFromJson(
  json: unknown,
  config: unknown,
  file: string,
  ids: { bos: number | null; eos: number[]; pad: number | null } = { bos: null, eos: [], pad: null }
): LlmTokenizer {
  const src = `tokenizer file "${file}"`
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new LlmError(`${src}: not a tokenizer.json (expected a JSON object)`)
  const j = json as Json
  const cfg = readTokenizerConfig(config)
  const model = j.model as Json | undefined
  if (!model || typeof model !== 'object') throw new LlmError(`${src}: has no "model" section; is it a Hugging Face tokenizer.json?`)
  const addedList = (Array.isArray(j.added_tokens) ? j.added_tokens : []) as Array<{
    id: number
    content: string
    special?: boolean
    lstrip?: boolean
    rstrip?: boolean
    single_word?: boolean
  }>
  const pre = fastPreTokenizer(j.pre_tokenizer)
  const normalizer = j.normalizer as Json | null | undefined
  const normOk = normalizer === null || normalizer === undefined || normalizer.type === 'NFC'
  const decoderOk = (j.decoder as Json | null)?.type === 'ByteLevel'
  const byteLevel =
    model.type === 'BPE' &&
    pre !== null &&
    /ByteLevel/.test(pre.describe) &&
    normOk &&
    decoderOk &&
    !model.byte_fallback &&
    !model.dropout &&
    !model.continuing_subword_prefix &&
    !model.end_of_word_suffix &&
    addedList.every((t) => !t.single_word)
  let impl: ByteLevelBpe | HfTokenizer
  let info: LlmTokenizerInfo
  let vocabIndex: (name: string) => number | undefined
  if (byteLevel) {
    const vocab = model.vocab as Record<string, number>
    if (!vocab || typeof vocab !== 'object') throw new LlmError(`${src}: model has no vocabulary ("model.vocab")`)
    if (!Array.isArray(model.merges)) throw new LlmError(`${src}: BPE model has no "merges" list`)
    let n = 0
    for (const id of Object.values(vocab)) if (id + 1 > n) n = id + 1
    for (const t of addedList) if (t.id + 1 > n) n = t.id + 1
    const tokens: Array<string | undefined> = new Array(n)
    for (const [t, id] of Object.entries(vocab)) tokens[id] = t
    for (const t of addedList) tokens[t.id] = t.content
    const patterns = compile(pre!.patterns, src)
    impl = new ByteLevelBpe({
      tokens,
      merges: model.merges as Array<string | [string, string]>,
      preTokenizer: patterns,
      added: addedList.map((t) => ({ content: t.content, id: t.id, special: t.special === true, lstrip: t.lstrip, rstrip: t.rstrip })),
      ignoreMerges: model.ignore_merges === true,
      nfc: normalizer?.type === 'NFC',
      source: src
    })
    info = { engine: 'byte-level-bpe', preTokenizer: pre!.describe, source: src }
    vocabIndex = (name) => (impl as ByteLevelBpe).idOf(name)
  } else {
    try {
      impl = new HfTokenizer(json, config, file)
    } catch (e) {
      throw new LlmError(`${src}: ${(e as Error).message}`)
    }
    info = { engine: 'hf-tokenizers', preTokenizer: String((j.pre_tokenizer as Json | null)?.type ?? 'none'), source: src }
    const added = new Map(addedList.map((t) => [t.content, t.id]))
    vocabIndex = (name) => added.get(name) ?? (model.vocab as Record<string, number> | undefined)?.[name]
  }
  const byName = (name: string | undefined): number | null => (name === undefined ? null : (vocabIndex(name) ?? null))
  const bos = ids.bos ?? byName(cfg.bosToken)
  const eosCfg = byName(cfg.eosToken)
  const eos = ids.eos.length ? ids.eos : eosCfg !== null ? [eosCfg] : []
  // the tokenizer_config eos (the end of an assistant turn in chat models) goes first when it is among them
  const eosOrdered = eosCfg !== null && eos.includes(eosCfg) ? [eosCfg, ...eos.filter((e) => e !== eosCfg)] : eos
  let addBos = cfg.addBos
  if (addBos === undefined) {
    // a TemplateProcessing post-processor that starts with BOS (Llama 3) means "add BOS"
    const post = j.post_processor as Json | null
    const single = (post?.type === 'TemplateProcessing' ? post.single : null) as Array<Json> | null
    const first = single?.[0] as { SpecialToken?: { id?: string } } | undefined
    addBos = first?.SpecialToken?.id !== undefined && byName(first.SpecialToken.id) === bos
  }
  return new LlmTokenizer(impl, info, { bos, eos: eosOrdered, pad: ids.pad ?? byName(cfg.padToken), addBos }, new Set(addedList.map((t) => t.id)))
}

/**
 * A GGUF file's tokenizer (tokenizer.ggml.model gpt2) as Hugging Face files, for exporting a model
 * read from GGUF as a Hugging Face folder: tokenizer.json whose pre-tokenizer is the file's
 * llama.cpp regexes as Split(Isolated) steps then ByteLevel without its own regex — exactly what
 * tokenizerFromGguf runs, and what tokenizerFromJson reads back — and tokenizer_config.json with
 * the specials, add_bos_token and the chat template (tokenizer.chat_template).
 */
export function hfTokenizerFilesFromGguf(h: GgufHeader, contextLength: number): { tokenizer: Json; tokenizerConfig: Json; specialTokensMap: Json } {
  tokenizerFromGguf(h) // the same checks (model gpt2, tokens, merges, a known pre-tokenizer)
  const tokens = metaArray(h, 'tokenizer.ggml.tokens') as string[]
  const merges = metaArray(h, 'tokenizer.ggml.merges') as string[]
  const types = (metaArray(h, 'tokenizer.ggml.token_type') as number[] | undefined) ?? []
  const preName = metaString(h, 'tokenizer.ggml.pre') ?? 'default'
  const pre = PRE_TOKENIZERS[preName]
  const id = (k: string): number | null => metaNumber(h, `tokenizer.ggml.${k}`) ?? null
  const text = (i: number | null): string | null => (i === null || tokens[i] === undefined ? null : tokens[i])
  const addBos = metaBool(h, 'tokenizer.ggml.add_bos_token') ?? pre.addBos ?? false
  const bos = id('bos_token_id')
  const added = types
    .map((t, i) => ({ t, i }))
    .filter(({ t }) => t === TOKEN_TYPE.CONTROL || t === TOKEN_TYPE.USER_DEFINED)
    .map(({ t, i }) => ({ id: i, content: tokens[i], single_word: false, lstrip: false, rstrip: false, normalized: false, special: t === TOKEN_TYPE.CONTROL }))
  const bosText = text(bos)
  const tokenizer: Json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        ...pre.patterns.map((p) => ({ type: 'Split', pattern: { Regex: p }, behavior: 'Isolated', invert: false })),
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }
      ]
    },
    // BOS in front of plain text when the model expects it (the engine's encode never adds it)
    post_processor:
      addBos && bosText !== null
        ? {
            type: 'TemplateProcessing',
            single: [{ SpecialToken: { id: bosText, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
            pair: [
              { SpecialToken: { id: bosText, type_id: 0 } },
              { Sequence: { id: 'A', type_id: 0 } },
              { SpecialToken: { id: bosText, type_id: 1 } },
              { Sequence: { id: 'B', type_id: 1 } }
            ],
            special_tokens: { [bosText]: { id: bosText, ids: [bos], tokens: [bosText] } }
          }
        : null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: pre.ignoreMerges === true,
      vocab: Object.fromEntries(tokens.map((t, i) => [t, i])),
      merges: merges.map((m) => m.split(' '))
    }
  }
  const specials: Json = {}
  const eosText = text(id('eos_token_id'))
  const padText = text(id('padding_token_id'))
  if (bosText !== null) specials.bos_token = bosText
  if (eosText !== null) specials.eos_token = eosText
  if (padText !== null) specials.pad_token = padText
  const chat = metaString(h, 'tokenizer.chat_template')
  const tokenizerConfig: Json = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    add_bos_token: addBos,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: contextLength,
    ...specials,
    ...(chat ? { chat_template: chat } : {})
  }
  return { tokenizer, tokenizerConfig, specialTokensMap: specials }
}
