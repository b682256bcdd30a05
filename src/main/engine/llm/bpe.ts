// Byte-level BPE (GPT-2, Llama 3, Qwen2, SmolLM): a fast encoder for the tokenizers real causal
// LMs use. Written here rather than taken from @huggingface/tokenizers because issue 17 needs
// ~59k traces tokenised in ~10 s and that library does ~3M tokens/s on one core; this one caches
// each pre-token's ids and works on integer ids (see bench-tokenizer.ts for the measured ratio).
//
//   text → split around added/special tokens (matched literally, longest first)
//        → optional NFC → pre-tokenizer: a sequence of "isolating" regex splits (each piece is
//          cut into its matches and the text between them)
//        → each pre-token: UTF-8 bytes → GPT-2's byte-to-unicode alphabet → merges by rank
//          (lowest rank first, leftmost on ties), as Hugging Face's BPE model does.
import { LlmError } from './errors.ts'

/** GPT-2's reversible byte → printable character map (bytes_to_unicode). */
export function bytesToUnicode(): string[] {
  const bs: number[] = []
  for (let b = 33; b <= 126; b++) bs.push(b)
  for (let b = 161; b <= 172; b++) bs.push(b)
  for (let b = 174; b <= 255; b++) bs.push(b)
  const map: string[] = new Array(256)
  for (const b of bs) map[b] = String.fromCharCode(b)
  let n = 0
  for (let b = 0; b < 256; b++) {
    if (map[b] === undefined) {
      map[b] = String.fromCharCode(256 + n)
      n++
    }
  }
  return map
}

// Regex whitespace as Oniguruma / Rust's regex mean it (Unicode White_Space); JavaScript's \s also
// matches U+FEFF and misses U+0085, so \s and \S are spelled out.
const WS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000'

/** Hugging Face / llama.cpp pre-tokenizer regexes (Oniguruma syntax) → JavaScript ('gu').
 *  Returns null for constructs JavaScript cannot express (possessive quantifiers, other inline flags). */
export function toJsRegex(pattern: string): RegExp | null {
  // (?i:'s|'t|…) — case-insensitive contractions, as llama.cpp spells them out
  let p = pattern.replace(/\(\?i:'s\|'t\|'re\|'ve\|'m\|'ll\|'d\)/g, "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])")
  if (/\(\?[a-z]/i.test(p.replace(/\(\?[:=!]|\(\?<[=!]/g, ''))) return null
  // possessive quantifiers (a+ +, a? +, a{2}+): after removing escapes and \p{…} classes
  if (/[+*?}]\+/.test(p.replace(/\\[pP]\{[^}]*\}/g, 'x').replace(/\\./g, 'x'))) return null
  let out = ''
  let inClass = false
  for (let i = 0; i < p.length; i++) {
    const c = p[i]
    if (c === '\\' && i + 1 < p.length) {
      const n = p[i + 1]
      if (n === 's') out += inClass ? WS : `[${WS}]`
      else if (n === 'S') {
        if (inClass) return null
        out += `[^${WS}]`
      } else out += c + n
      i++
      continue
    }
    if (c === '[' && !inClass) inClass = true
    else if (c === ']' && inClass) inClass = false
    out += c
  }
  p = out
  try {
    return new RegExp(p, 'gu')
  } catch {
    return null
  }
}

/** the GPT-2 ByteLevel pre-tokenizer regex */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

export interface AddedToken {
  content: string
  id: number
  /** special tokens are dropped by decode(…, skipSpecial) */
  special: boolean
  lstrip?: boolean
  rstrip?: boolean
}

export interface BpeConfig {
  /** token strings by id (byte-level alphabet; added tokens spelled as themselves) */
  tokens: ArrayLike<string | undefined>
  /** merges in rank order, each "left right" or [left, right] */
  merges: ArrayLike<string | [string, string]>
  /** isolating splits applied in order */
  preTokenizer: RegExp[]
  added: AddedToken[]
  /** a pre-token that is itself in the vocabulary is one token (Llama 3's ignore_merges) */
  ignoreMerges?: boolean
  nfc?: boolean
  /** names the source in errors */
  source: string
}

const PAIR = 2 ** 21

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

export class ByteLevelBpe {
  readonly vocabSize: number
  readonly source: string
  private readonly tokens: string[]
  private readonly ids = new Map<string, number>()
  /** pair key (left·2^21 + right) → rank */
  private readonly ranks = new Map<number, number>()
  /** rank → merged id */
  private readonly mergedId: Int32Array
  private readonly byteId = new Int32Array(256).fill(-1)
  private readonly byteChar = bytesToUnicode()
  private readonly charByte = new Map<string, number>()
  private readonly pre: RegExp[]
  private readonly addedRe: RegExp | null
  private readonly addedByContent = new Map<string, AddedToken>()
  readonly specialIds = new Set<number>()
  private readonly addedIds = new Set<number>()
  private readonly ignoreMerges: boolean
  private readonly nfc: boolean
  private readonly cache = new Map<string, number[]>()
  private readonly encoder = new TextEncoder()
  private readonly decoder = new TextDecoder('utf-8', { fatal: false })

  constructor(cfg: BpeConfig) {
    this.source = cfg.source
    const n = cfg.tokens.length
    this.tokens = new Array(n)
    for (let i = 0; i < n; i++) {
      const t = cfg.tokens[i]
      if (t === undefined) continue
      this.tokens[i] = t
      if (!this.ids.has(t)) this.ids.set(t, i)
    }
    this.vocabSize = n
    if (n >= PAIR) throw new LlmError(`${cfg.source}: a vocabulary of ${n} tokens is larger than this tokenizer handles (${PAIR})`)
    this.byteChar.forEach((ch, b) => {
      this.charByte.set(ch, b)
      const id = this.ids.get(ch)
      if (id !== undefined) this.byteId[b] = id
    })
    this.mergedId = new Int32Array(cfg.merges.length)
    for (let r = 0; r < cfg.merges.length; r++) {
      const m = cfg.merges[r]
      let left: string
      let right: string
      if (typeof m === 'string') {
        const sp = m.indexOf(' ', 1)
        if (sp < 0) throw new LlmError(`${cfg.source}: merge ${r} ${JSON.stringify(m)} is not "left right"`)
        left = m.slice(0, sp)
        right = m.slice(sp + 1)
      } else [left, right] = m
      const a = this.ids.get(left)
      const b = this.ids.get(right)
      const c = this.ids.get(left + right)
      if (a === undefined || b === undefined || c === undefined) {
        throw new LlmError(`${cfg.source}: merge ${r} ${JSON.stringify(`${left} ${right}`)} names a token that is not in the vocabulary`)
      }
      const key = a * PAIR + b
      if (!this.ranks.has(key)) this.ranks.set(key, r)
      this.mergedId[r] = c
    }
    this.pre = cfg.preTokenizer
    for (const t of cfg.added) {
      this.addedByContent.set(t.content, t)
      this.addedIds.add(t.id)
      if (t.special) this.specialIds.add(t.id)
    }
    const contents = [...this.addedByContent.keys()].filter((c) => c.length > 0).sort((x, y) => y.length - x.length)
    this.addedRe = contents.length ? new RegExp(contents.map(escapeRegex).join('|'), 'g') : null
    this.ignoreMerges = cfg.ignoreMerges ?? false
    this.nfc = cfg.nfc ?? false
  }

  idOf(token: string): number | undefined {
    return this.ids.get(token)
  }

  isAdded(id: number): boolean {
    return this.addedIds.has(id)
  }

  /** text → ids (added and special tokens matched in the text; nothing else added) */
  encode(text: string): number[] {
    const out: number[] = []
    if (!this.addedRe) {
      this.encodeOrdinary(text, out)
      return out
    }
    // split around added tokens; lstrip/rstrip tokens absorb the whitespace beside them
    const re = this.addedRe
    re.lastIndex = 0
    let start = 0
    const pending: Array<{ from: number; to: number; id: number }> = []
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const tok = this.addedByContent.get(m[0])!
      let from = m.index
      let to = from + m[0].length
      if (tok.lstrip) while (from > start && /\s/.test(text[from - 1])) from--
      if (tok.rstrip) while (to < text.length && /\s/.test(text[to])) to++
      pending.push({ from, to, id: tok.id })
      start = to
      re.lastIndex = to
    }
    let pos = 0
    for (const p of pending) {
      if (p.from > pos) this.encodeOrdinary(text.slice(pos, p.from), out)
      out.push(p.id)
      pos = p.to
    }
    if (pos < text.length) this.encodeOrdinary(text.slice(pos), out)
    return out
  }

  /** text without added tokens → ids, appended to out */
  private encodeOrdinary(text: string, out: number[]): void {
    if (text.length === 0) return
    if (this.nfc) text = text.normalize('NFC')
    let pieces = [text]
    for (const re of this.pre) {
      const next: string[] = []
      for (const piece of pieces) splitIsolated(piece, re, next)
      pieces = next
    }
    for (const piece of pieces) {
      let ids = this.cache.get(piece)
      if (!ids) {
        ids = this.encodeWord(piece)
        if (this.cache.size > 200_000) this.cache.clear()
        this.cache.set(piece, ids)
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i])
    }
  }

  /** one pre-token → ids by merges */
  private encodeWord(piece: string): number[] {
    const bytes = this.encoder.encode(piece)
    const n = bytes.length
    if (this.ignoreMerges) {
      let s = ''
      for (let i = 0; i < n; i++) s += this.byteChar[bytes[i]]
      const whole = this.ids.get(s)
      if (whole !== undefined) return [whole]
    }
    const sym: number[] = new Array(n)
    for (let i = 0; i < n; i++) {
      const id = this.byteId[bytes[i]]
      if (id < 0) throw new LlmError(`${this.source}: byte 0x${bytes[i].toString(16).padStart(2, '0')} (in ${JSON.stringify(piece.slice(0, 40))}) has no token in the vocabulary`)
      sym[i] = id
    }
    if (n < 2) return sym
    return n <= 48 ? this.mergeSmall(sym) : this.mergeLarge(sym)
  }

  /** O(n²) merging for short pre-tokens (almost all of them) */
  private mergeSmall(sym: number[]): number[] {
    const ranks = this.ranks
    for (;;) {
      let best = -1
      let bestRank = Infinity
      for (let i = 0; i + 1 < sym.length; i++) {
        const r = ranks.get(sym[i] * PAIR + sym[i + 1])
        if (r !== undefined && r < bestRank) {
          bestRank = r
          best = i
        }
      }
      if (best < 0) return sym
      sym[best] = this.mergedId[bestRank]
      sym.splice(best + 1, 1)
    }
  }

  /** linked list + binary heap of (rank, position) for long pre-tokens */
  private mergeLarge(sym: number[]): number[] {
    const n = sym.length
    const ids = Int32Array.from(sym)
    const next = new Int32Array(n)
    const prev = new Int32Array(n)
    const alive = new Uint8Array(n).fill(1)
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1
      prev[i] = i - 1
    }
    // heap entries packed as rank·2^22 + position (lowest rank, then leftmost, first)
    const heap: number[] = []
    const push = (v: number): void => {
      heap.push(v)
      let i = heap.length - 1
      while (i > 0) {
        const p = (i - 1) >> 1
        if (heap[p] <= heap[i]) break
        ;[heap[p], heap[i]] = [heap[i], heap[p]]
        i = p
      }
    }
    const pop = (): number => {
      const top = heap[0]
      const last = heap.pop()!
      if (heap.length) {
        heap[0] = last
        let i = 0
        for (;;) {
          const l = 2 * i + 1
          const r = l + 1
          let m = i
          if (l < heap.length && heap[l] < heap[m]) m = l
          if (r < heap.length && heap[r] < heap[m]) m = r
          if (m === i) break
          ;[heap[m], heap[i]] = [heap[i], heap[m]]
          i = m
        }
      }
      return top
    }
    const POS = 2 ** 22
    const consider = (i: number): void => {
      const j = next[i]
      if (i < 0 || j < 0) return
      const r = this.ranks.get(ids[i] * PAIR + ids[j])
      if (r !== undefined) push(r * POS + i)
    }
    for (let i = 0; i + 1 < n; i++) consider(i)
    while (heap.length) {
      const v = pop()
      const r = Math.floor(v / POS)
      const i = v - r * POS
      if (!alive[i]) continue
      const j = next[i]
      if (j < 0) continue
      // stale entry: the pair at i is no longer the one this rank was pushed for
      if (this.ranks.get(ids[i] * PAIR + ids[j]) !== r) continue
      ids[i] = this.mergedId[r]
      alive[j] = 0
      next[i] = next[j]
      if (next[j] >= 0) prev[next[j]] = i
      if (prev[i] >= 0) consider(prev[i])
      consider(i)
    }
    const out: number[] = []
    for (let i = 0; i >= 0; i = next[i]) out.push(ids[i])
    return out
  }

  /** ids → text; special tokens dropped when skipSpecial (default true) */
  decode(ids: ArrayLike<number>, skipSpecial = true): string {
    let text = ''
    let bytes: number[] = []
    const flush = (): void => {
      if (bytes.length) {
        text += this.decoder.decode(new Uint8Array(bytes))
        bytes = []
      }
    }
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k]
      const tok = this.tokens[id]
      if (tok === undefined) continue
      if (this.addedIds.has(id)) {
        if (skipSpecial && this.specialIds.has(id)) continue
        flush()
        text += tok
        continue
      }
      for (const ch of tok) {
        const b = this.charByte.get(ch)
        if (b === undefined) {
          flush()
          text += ch
        } else bytes.push(b)
      }
    }
    flush()
    return text
  }

  /** a token's text as the vocabulary spells it (for per-token displays) */
  tokenString(id: number): string | undefined {
    return this.tokens[id]
  }

  /** a token's bytes decoded leniently (for showing one token of generated text) */
  tokenText(id: number): string {
    const tok = this.tokens[id]
    if (tok === undefined) return `<${id}?>`
    if (this.addedIds.has(id)) return tok
    return this.decode([id], false)
  }
}

/** cut `piece` into the matches of `re` and the text between them (Hugging Face's "Isolated") */
export function splitIsolated(piece: string, re: RegExp, out: string[]): void {
  re.lastIndex = 0
  let pos = 0
  for (let m = re.exec(piece); m; m = re.exec(piece)) {
    if (m[0].length === 0) {
      re.lastIndex++
      continue
    }
    if (m.index > pos) out.push(piece.slice(pos, m.index))
    out.push(m[0])
    pos = m.index + m[0].length
  }
  if (pos < piece.length) out.push(pos === 0 ? piece : piece.slice(pos))
}
