// Options every row-by-row import takes (datasets.import and byo.import in the contract, the
// `--skip-bad-rows`, `--max-trace-steps` and `--max-line-bytes` flags of the command line, and
// the engine's importer), with their defaults in one place. Platform-free: the renderer uses it.
import { z } from 'zod'

/** The limits an import holds a file to unless told otherwise. A trace of 256 Ki steps is
 *  longer than any s1K-1.1 trace even with the byte tokenizer (≈ 120 k); a 16 MiB line holds
 *  such a trace with two log-prob lists. What lies past them is nearly always a broken file
 *  (one 50 MB line took 1.8 GB to import), so a larger value must be asked for. */
export const IMPORT_LIMIT_DEFAULTS = { maxTraceSteps: 262_144, maxLineBytes: 16 * 1024 * 1024 } as const

const limit = z
  .number()
  .int()
  .min(1)
  .max(2 ** 31 - 1)

/** The fields an import request adds for these options (spread into a z.strictObject). */
export const ImportOptionFields = {
  /** import the good rows of a JSONL, CSV or Parquet file and report every bad one (default: refuse the file) */
  skipBadRows: z.boolean().optional(),
  /** most steps (prompt + completion tokens) a trace may have */
  maxTraceSteps: limit.optional(),
  /** most bytes a JSONL or CSV line may have */
  maxLineBytes: limit.optional()
}

/** A row an import left out (skipBadRows). */
export interface SkippedRow {
  /** 1-based line of the file (the row's number for Parquet) */
  line: number
  /** what was wrong, naming the file, the line and the field */
  reason: string
}
