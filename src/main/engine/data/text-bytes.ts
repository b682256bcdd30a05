// The bytes of a line-oriented text file (JSONL, CSV) before it is parsed: decoded as UTF-8
// strictly (TextDecoder with fatal: true; Buffer.toString would put U+FFFD in place of a bad
// byte and say nothing), and every line checked against a size limit. Problems come back with
// their 1-based line and byte offset, so the importer can name them or skip those lines.

export interface LineProblem {
  /** 1-based line */
  line: number
  /** byte offset in the file of the bad byte, or of the line's start for an over-long line */
  offset: number
  kind: 'utf8' | 'too-long'
  /** the bad byte (utf8) or the line's length in bytes (too-long) */
  value: number
}

export interface DecodedText {
  text: string
  /** sorted by offset; empty when every line is good */
  problems: LineProblem[]
}

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Offset of the first byte at or after `from` that starts an ill-formed UTF-8 sequence (the
 *  well-formed sequences of the Unicode Standard, table 3-7), or -1. Used only to say where a
 *  strict decode failed: TextDecoder does not tell. */
export function invalidUtf8At(b: Uint8Array, from = 0): number {
  const n = b.length
  let i = from
  while (i < n) {
    const c = b[i]
    if (c < 0x80) {
      i++
      continue
    }
    // continuation bytes are 0x80..0xbf, except the first after E0, ED, F0 and F4 (table 3-7)
    let need: number
    let lo = 0x80
    let hi = 0xbf
    if (c >= 0xc2 && c <= 0xdf) need = 1
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2
      if (c === 0xe0) lo = 0xa0
      if (c === 0xed) hi = 0x9f
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3
      if (c === 0xf0) lo = 0x90
      if (c === 0xf4) hi = 0x8f
    } else return i
    for (let k = 1; k <= need; k++) {
      const d = i + k < n ? b[i + k] : -1
      if (d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return i
    }
    i += need + 1
  }
  return -1
}

/** Counts line breaks as the parsers do: LF (JSONL), or LF, CRLF and a lone CR (CSV). */
class LineCounter {
  private pos = 0
  private line = 1
  constructor(
    private readonly b: Uint8Array,
    private readonly loneCr: boolean
  ) {}
  /** the line holding byte `offset` (offsets must come in increasing order) */
  lineAt(offset: number): number {
    const b = this.b
    for (let i = this.pos; i < offset; i++) {
      const c = b[i]
      if (c === 10 || (this.loneCr && c === 13 && b[i + 1] !== 10)) this.line++
    }
    this.pos = Math.max(this.pos, offset)
    return this.line
  }
}

/** Decode `buf` as UTF-8 and find every ill-formed byte sequence and every line longer than
 *  `maxLineBytes` bytes (without its line break). With `all` false it stops at the first
 *  problem and reads no further (an over-long line is not even decoded); the text is then ''
 *  when a problem was found (textBefore gives the lines before it). */
export function decodeTextFile(buf: Uint8Array, opts: { maxLineBytes: number; loneCr: boolean; all: boolean }): DecodedText {
  const problems: Array<Omit<LineProblem, 'line'>> = []
  // lines longer than the limit (LF-separated lines bound the CSV lines too: a lone CR only splits)
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  for (let start = 0; start < b.length;) {
    let end = b.indexOf(10, start)
    if (end < 0) end = b.length
    let len = end - start
    if (len > 0 && b[end - 1] === 13) len--
    if (len > opts.maxLineBytes) {
      if (opts.loneCr) {
        // a CSV "line" may be several lines split by lone CRs
        let s = start
        for (let i = start; i <= start + len; i++) {
          if (i === start + len || b[i] === 13) {
            if (i - s > opts.maxLineBytes) problems.push({ offset: s, kind: 'too-long', value: i - s })
            s = i + 1
          }
        }
      } else problems.push({ offset: start, kind: 'too-long', value: len })
      if (!opts.all && problems.length > 0) break
    }
    start = end + 1
  }
  // stopping at the first problem: what lies past an over-long line is not read
  const end = !opts.all && problems.length > 0 ? problems[0].offset : buf.length
  const head = buf.subarray(0, end)
  let text = ''
  try {
    text = strict.decode(head)
  } catch {
    for (let at = invalidUtf8At(head); at >= 0;) {
      problems.push({ offset: at, kind: 'utf8', value: head[at] })
      if (!opts.all) break
      // go on from the next line: one report a line is enough
      const nl = b.indexOf(10, at)
      at = nl < 0 ? -1 : invalidUtf8At(head, nl + 1)
    }
    if (opts.all) text = b.toString('utf8')
  }
  problems.sort((x, y) => x.offset - y.offset)
  const counter = new LineCounter(buf, opts.loneCr)
  const withLines = problems.map((p) => ({ ...p, line: counter.lineAt(p.offset) }))
  if (!opts.all && withLines.length > 0) return { text: '', problems: withLines.slice(0, 1) }
  return { text, problems: withLines }
}

/** The text of the whole lines before byte `offset` (valid UTF-8 up to a problem found there). */
export function textBefore(buf: Uint8Array, offset: number): string {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  return b.toString('utf8', 0, b.lastIndexOf(10, offset - 1) + 1)
}

/** "12,345" */
export const count = (n: number): string => n.toLocaleString('en-US')
