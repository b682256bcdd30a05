// The import's mapping step: a text file's columns with the first rows under each, and a role
// per column (what the importer makes of it: prompt, completion, a chat, s1K's question /
// thinking / attempt, score, id, metadata, token ids or strings, log-probs). The roles chosen
// for a file shape (its sorted column names) are remembered in this browser's localStorage and
// offered again for the next file of that shape.
import { useMemo, useState } from 'react'
import type { DatasetPreview } from '../../../shared/contract.ts'

export type ColumnMappingValue = DatasetPreview['detected']
type MappingKey = Exclude<keyof ColumnMappingValue, 'completionTemplate'>

export const ROLES: ReadonlyArray<{ key: MappingKey | ''; label: string }> = [
  { key: '', label: '— not used' },
  { key: 'prompt', label: 'prompt' },
  { key: 'completion', label: 'completion' },
  { key: 'messages', label: 'messages (chat: list of {role, content})' },
  { key: 'question', label: 'question (s1K: the prompt)' },
  { key: 'thinking', label: 'thinking (s1K: completion, first part)' },
  { key: 'attempt', label: 'attempt (s1K: completion, second part)' },
  { key: 'score', label: 'score S(τ)' },
  { key: 'id', label: 'trace id' },
  { key: 'meta', label: 'metadata (kept per trace)' },
  { key: 'tokens', label: 'completion tokens (ids or strings)' },
  { key: 'promptTokens', label: 'prompt tokens (ids or strings)' },
  { key: 'refLogprobs', label: 'log π_ref per completion token' },
  { key: 'policyLogprobs', label: 'log π_policy per completion token' }
]

const storageKey = (columns: string[]): string => `iwsft.mapping:${[...columns].sort().join('\u0001')}`

/** The mapping remembered for files with these columns, or null. */
export function rememberedMapping(columns: string[]): ColumnMappingValue | null {
  try {
    const v = localStorage.getItem(storageKey(columns))
    return v ? (JSON.parse(v) as ColumnMappingValue) : null
  } catch {
    return null
  }
}

function remember(columns: string[], m: ColumnMappingValue): void {
  try {
    localStorage.setItem(storageKey(columns), JSON.stringify(m))
  } catch {
    // storage full or off: the mapping still applies to this import
  }
}

function rolesOf(m: ColumnMappingValue): Record<string, MappingKey | ''> {
  const r: Record<string, MappingKey | ''> = {}
  for (const [k, v] of Object.entries(m)) {
    if (k === 'completionTemplate') continue
    if (Array.isArray(v)) for (const c of v) r[c] = 'meta'
    else if (typeof v === 'string') r[v] = k as MappingKey
  }
  return r
}

/** Roles → a mapping, or what is wrong with them. */
export function mappingOfRoles(roles: Record<string, MappingKey | ''>): { mapping: ColumnMappingValue } | { error: string } {
  const m: Record<string, string | string[]> = {}
  for (const [col, role] of Object.entries(roles)) {
    if (!role) continue
    if (role === 'meta') {
      ;((m.meta ??= []) as string[]).push(col)
      continue
    }
    if (m[role]) return { error: `two columns are "${role}" ("${m[role] as string}" and "${col}"); give each role one column` }
    m[role] = col
  }
  const completion = m.completion || m.messages || m.tokens || (m.thinking && m.attempt)
  if (!completion) return { error: 'give one column the role completion, messages or completion tokens (or s1K: thinking and attempt)' }
  if ((m.thinking && !m.attempt) || (m.attempt && !m.thinking)) return { error: 's1K needs both thinking and attempt' }
  return { mapping: m as ColumnMappingValue }
}

export function ColumnMapping({
  file,
  preview,
  initial,
  onImport,
  onCancel
}: {
  file: string
  preview: DatasetPreview
  /** the remembered mapping for this shape, else the detected one */
  initial: ColumnMappingValue
  onImport: (mapping: ColumnMappingValue) => void
  onCancel: () => void
}): React.JSX.Element {
  const [roles, setRoles] = useState(() => rolesOf(initial))
  const checked = useMemo(() => mappingOfRoles(roles), [roles])
  const remembered = useMemo(() => rememberedMapping(preview.columns) !== null, [preview.columns])
  return (
    <div className="panel mapping" data-testid="column-mapping" aria-label={`columns of ${file}`}>
      <div className="row gap wrap">
        <h3 className="grow">Columns of {file}</h3>
        <span className="muted small" data-testid="mapping-layout">
          {preview.layout ? `recognised: ${preview.layout}` : 'layout not recognised: give each column its role'}
          {remembered ? ' · roles remembered from a file of this shape' : ''}
        </span>
      </div>
      <div className="mapping-scroll">
        <table className="table compact" data-testid="mapping-table">
          <thead>
            <tr>
              <th>column</th>
              <th>role</th>
              {preview.rows.map((_, i) => (
                <th key={i}>row {i + 1}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {preview.columns.map((c, ci) => (
              <tr key={c}>
                <td className="mono">{c}</td>
                <td>
                  <select
                    value={roles[c] ?? ''}
                    onChange={(e) => setRoles({ ...roles, [c]: e.target.value as MappingKey | '' })}
                    aria-label={`role of column ${c}`}
                    data-testid={`role-${c}`}
                  >
                    {ROLES.map((r) => (
                      <option key={r.key} value={r.key}>
                        {r.label}
                      </option>
                    ))}
                  </select>
                </td>
                {preview.rows.map((r, i) => (
                  <td key={i} className="cell-preview" title={r[ci]}>
                    {r[ci]}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="row gap wrap">
        <button
          className="primary"
          disabled={'error' in checked}
          onClick={() => {
            if ('mapping' in checked) {
              remember(preview.columns, checked.mapping)
              onImport(checked.mapping)
            }
          }}
          data-testid="mapping-import"
        >
          Import with these roles
        </button>
        <button onClick={onCancel}>Cancel</button>
        {'error' in checked && (
          <span className="error-text small" data-testid="mapping-error">
            {checked.error}
          </span>
        )}
      </div>
    </div>
  )
}
