// The report as Markdown, for notes and papers: the same sections as the HTML report, as
// tables; curves are summarised (first, last, best value and its step) instead of drawn.
import { diagnosticsTable, fmt, type ReportData, type ReportRun } from './build-report.ts'

/** A table cell: pipes and newlines escaped. */
const cell = (s: unknown): string =>
  String(s ?? '')
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/\r?\n/g, ' ')
const code = (s: unknown): string => {
  const t = String(s ?? '')
  if (t === '–') return t
  return t.includes('`') ? `\`\` ${cell(t)} \`\`` : `\`${cell(t)}\``
}

function table(head: string[], rows: string[][], align?: Array<'l' | 'r'>): string {
  const sep = head.map((_, i) => ((align?.[i] ?? 'l') === 'r' ? '---:' : '---'))
  return [`| ${head.join(' | ')} |`, `| ${sep.join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}

const label = (r: ReportRun): string => `${r.id} · ${r.methodLabel}${r.group ? ` · ${r.group}` : ''}`

export function renderMarkdown(d: ReportData): string {
  const out: string[] = []
  const multi = d.runs.length > 1
  out.push(`# ${d.title}`, '', `_${d.generatedBy} · ${d.generatedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')} · project \`${d.project}\`_`, '')

  out.push('## Runs', '')
  out.push(
    table(
      ['run', 'name', 'method', 'status', 'seed', 'backend', 'dataset', 'steps'],
      d.runs.map((r) => [
        String(r.id),
        cell(r.name),
        cell(r.methodLabel),
        cell(r.status + (r.error ? ` (${r.error})` : '')),
        String(r.seed),
        cell(r.backend ?? '–'),
        cell(r.dataset?.name ?? '–'),
        fmt(r.lastStep)
      ]),
      ['r', 'l', 'l', 'l', 'r', 'l', 'l', 'r']
    ),
    ''
  )

  if (d.groups.length) {
    const gk = [...new Set(d.groups.flatMap((g) => Object.keys(g.final)))]
    const order = [...d.metricKeys, ...gk.filter((k) => !d.metricKeys.includes(k))].filter((k) => gk.includes(k))
    out.push('## Groups: mean ± std over seeds', '', 'Runs whose configurations differ only in seed, name and group, aggregated (sample standard deviation).', '')
    out.push(
      table(
        ['metric', ...d.groups.map((g) => cell(g.label))],
        order.map((k) => [code(k), ...d.groups.map((g) => (g.final[k] ? `${fmt(g.final[k].mean)} ± ${fmt(g.final[k].std)}` : '–'))]),
        ['l', ...d.groups.map(() => 'r' as const)]
      ),
      ''
    )
  }

  const keys = [...new Set([...d.metricKeys, ...d.runs.flatMap((r) => Object.keys(r.final))])]
  if (keys.length) {
    out.push('## Final metrics', '', 'Last logged value of each metric.', '')
    out.push(
      table(
        ['metric', ...d.runs.map((r) => cell(multi ? label(r) : `run ${r.id}`))],
        keys.map((k) => [code(k), ...d.runs.map((r) => fmt(r.final[k]))]),
        ['l', ...d.runs.map(() => 'r' as const)]
      ),
      ''
    )
  }

  if (d.metricKeys.length) {
    out.push('## Curves', '', 'Each logged metric over training: first and last value, and the smallest and largest with the step where each was reached.', '')
    const rows: string[][] = []
    for (const k of d.metricKeys) {
      for (const r of d.runs) {
        const m = r.metrics[k]
        if (!m || m.values.length === 0) continue
        let lo = 0
        let hi = 0
        for (let i = 1; i < m.values.length; i++) {
          if (m.values[i] < m.values[lo]) lo = i
          if (m.values[i] > m.values[hi]) hi = i
        }
        rows.push([
          code(k),
          ...(multi ? [cell(label(r))] : []),
          fmt(m.values[0]),
          fmt(m.values[m.values.length - 1]),
          `${fmt(m.values[lo])} (${m.steps[lo]})`,
          `${fmt(m.values[hi])} (${m.steps[hi]})`,
          String(m.steps.length)
        ])
      }
    }
    out.push(table(['metric', ...(multi ? ['run'] : []), 'first', 'last', 'min (step)', 'max (step)', 'points'], rows, ['l', ...(multi ? ['l' as const] : []), 'r', 'r', 'r', 'r', 'r']), '')
  }

  const snaps = d.runs.filter((r) => r.snapshot)
  out.push('## Importance weights at the last snapshot', '')
  if (snaps.length === 0) out.push('No weight snapshots (a run stopped before its first snapshot has none).', '')
  else {
    const notInLoss = snaps.filter((r) => !r.weightsInLoss)
    if (notInLoss.length) {
      out.push(
        `${notInLoss.map((r) => `Run ${r.id} (${r.methodLabel})`).join(', ')} ${notInLoss.length > 1 ? 'do' : 'does'} not weight traces: every trace counted with w = 1 in the loss. Its weights below are what iw-SFT would give the same traces, shown for comparison.`,
        ''
      )
    }
    out.push(
      table(
        ['run', 'in the loss', 'step', 'traces', 'ESS fraction', 'clamp fraction', 'log w raw min', 'median', 'max'],
        snaps.map((r) => {
          const s = r.snapshot!
          return [
            cell(label(r)),
            r.weightsInLoss ? 'yes' : 'no (w = 1)',
            String(s.step),
            String(s.count),
            fmt(s.stats.ess_fraction),
            fmt(s.stats.clamp_fraction),
            fmt(s.stats.logw_raw_min),
            fmt(s.stats.logw_raw_median),
            fmt(s.stats.logw_raw_max)
          ]
        }),
        ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r']
      ),
      ''
    )
    for (const r of snaps) {
      const h = r.snapshot!.logWRaw
      if (!h.counts.length) continue
      const nz = h.counts.map((c, i) => ({ c, i })).filter((x) => x.c > 0)
      out.push(
        `Raw log w histogram, run ${r.id} (${h.counts.length} bins from ${fmt(h.edges[0])} to ${fmt(h.edges[h.edges.length - 1])}; non-empty bins):`,
        '',
        table(
          ['bin', 'traces'],
          nz.map(({ c, i }) => [`${fmt(h.edges[i])} … ${fmt(h.edges[i + 1])}`, String(c)]),
          ['l', 'r']
        ),
        ''
      )
    }
  }

  const diag = diagnosticsTable(d)
  if (diag.rows.length) {
    out.push(
      '## Weight diagnostics',
      '',
      'At the last snapshot, over the curated set as the loss samples it (a trace of quality-bin multiplicity m counts m times): ESS/N, the share of the weight held by the top 1 and top 5 traces, the traces the clamp changed and their share of the weight, Spearman rank correlation of w with the score and with the quality bin, the mean log ratio ρ per step, and π_ref’s action σ (Gaussian policies).',
      '',
      table(
        diag.head,
        diag.rows.map((r) => [cell(r[0]), ...r.slice(1).map(cell)]),
        ['l', ...diag.head.slice(1).map(() => 'r' as const)]
      ),
      ''
    )
    for (const w of diag.warnings) out.push(`- **warning:** ${cell(w)}`)
    if (diag.warnings.length) out.push('')
  }

  out.push('## Data and curation', '')
  const seen = new Set<string>()
  for (const r of d.runs) {
    const key = `${r.dataset?.id ?? 'none'}|${r.curation?.rule ?? ''}`
    if (seen.has(key)) continue
    seen.add(key)
    const ds = r.dataset
    const same = d.runs.filter((x) => `${x.dataset?.id ?? 'none'}|${x.curation?.rule ?? ''}` === key).map((x) => x.id)
    if (multi) out.push(`${same.length > 1 ? 'Runs' : 'Run'} ${same.join(', ')}:`, '')
    if (!ds) {
      out.push('No dataset recorded.', '')
      continue
    }
    out.push(
      table(
        ['dataset', 'kind', 'traces', 'steps', 'obs dim', 'act dim', 'scores', 'source', 'hash'],
        [
          [
            cell(ds.name),
            ds.kind,
            String(ds.numTraces),
            String(ds.numSteps),
            String(ds.obsDim),
            String(ds.actDim),
            `${fmt(ds.scoreMin)} … ${fmt(ds.scoreMax)}`,
            code(ds.source),
            code(ds.hash.slice(0, 12))
          ]
        ]
      ),
      ''
    )
    const c = r.curation
    if (c) {
      out.push(
        `Curation: **${cell(c.rule)}** keeps ${c.kept} of ${c.numTraces} traces${c.mode === 'quality_bins' ? ` (${c.total} counted with multiplicity)` : ''}${c.thresholds.length ? `; score thresholds ${c.thresholds.map((t) => fmt(t)).join(', ')}` : ''}.`,
        '',
        table(
          ['bin', 'traces', 'share'],
          c.bins.map((b) => [cell(b.label), String(b.count), `${fmt((100 * b.count) / Math.max(1, c.numTraces), 3)}%`]),
          ['l', 'r', 'r']
        ),
        ''
      )
    }
  }

  out.push('## Configuration', '')
  if (!multi)
    out.push(
      table(
        ['setting', 'value'],
        d.config.map((c) => [code(c.key), code(c.values[0])])
      ),
      ''
    )
  else {
    const diff = d.config.filter((c) => c.differs)
    out.push('What differs between the runs:', '')
    out.push(
      diff.length
        ? table(
            ['setting', ...d.runs.map((r) => cell(label(r)))],
            diff.map((c) => [code(c.key), ...c.values.map(code)])
          )
        : 'Nothing: the runs share one configuration.',
      ''
    )
    out.push(
      'Shared by all runs:',
      '',
      table(
        ['setting', 'value'],
        d.config.filter((c) => !c.differs).map((c) => [code(c.key), code(c.values[0])])
      ),
      ''
    )
  }

  out.push('## Seeds, backend and versions', '')
  const vk = [...new Set(d.runs.flatMap((r) => Object.keys(r.versions)))].sort()
  out.push(
    table(
      ['', ...d.runs.map((r) => cell(multi ? label(r) : `run ${r.id}`))],
      [
        ['seed', ...d.runs.map((r) => String(r.seed))],
        ['data seed', ...d.runs.map((r) => (r.dataSeed === null ? '= seed' : String(r.dataSeed)))],
        ['backend', ...d.runs.map((r) => cell(r.backend ?? '–'))],
        ['data hash', ...d.runs.map((r) => code(r.dataHash ?? '–'))],
        ['checkpoints (steps)', ...d.runs.map((r) => r.checkpoints.map((c) => c.step).join(', ') || '–')],
        ...vk.map((k) => [`version: ${cell(k)}`, ...d.runs.map((r) => code(r.versions[k] ?? '–'))])
      ]
    ),
    ''
  )
  return out.join('\n')
}
