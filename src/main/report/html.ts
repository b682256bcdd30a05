// One self-contained HTML report: tables are plain HTML (readable without scripts), charts are
// plotly, inlined with the report data so the single file works offline. Light and dark
// follow the reader's system (prefers-color-scheme). `forPrint` lays charts out in one column
// at a fixed width that fits an A4 page, static (no hover), for PDF output.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { diagnosticsTable, fmt, type ReportData, type ReportRun } from './build-report.ts'

export interface HtmlOptions {
  /** one column of fixed-width static charts, details expanded (PDF) */
  forPrint?: boolean
  /** plotly source; default: plotly.js-dist-min from node_modules */
  plotlySource?: string
}

/** Set on window when every chart is drawn: printers wait for it before printing. */
export const REPORT_READY_FLAG = '__iwsftReportReady'

let plotlyCache: string | null = null
export function plotlySource(): string {
  if (plotlyCache) return plotlyCache
  const require = createRequire(import.meta.url)
  const file = require.resolve('plotly.js-dist-min/plotly.min.js')
  plotlyCache = readFileSync(file, 'utf8')
  return plotlyCache
}

export const esc = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

/** JSON safe inside a <script> element. */
const scriptJson = (x: unknown): string =>
  JSON.stringify(x)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')

export const METRIC_HELP: Record<string, string> = {
  loss: 'training loss (negative log-likelihood; weighted by w only for the iw-SFT methods)',
  expected_reward: 'expected reward of the policy (evaluation)',
  p_right: 'probability of the better arm',
  ess_fraction: 'effective sample size of the batch weights ÷ batch size (1 = uniform)',
  ess: 'effective sample size (Σw)² / Σw²',
  clamp_fraction: 'share of traces whose raw weight lies outside the clamp',
  logw_raw_median: 'median raw log-weight (before the clamp)',
  logw_raw_min: 'smallest raw log-weight',
  logw_raw_max: 'largest raw log-weight',
  logw_median: 'median log of the clamped (and normalised, if on) weight: in the loss of the iw-SFT methods only',
  grad_norm: 'global gradient norm',
  lr: 'learning rate'
}

const runLabel = (r: ReportRun): string => `${r.id} · ${r.methodLabel}${r.group ? ` · ${r.group}` : ''}`

function table(head: string[], rows: string[][], cls = ''): string {
  return `<div class="table-wrap"><table class="${cls}"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table></div>`
}

const num = (v: number | null | undefined): string => `<span class="num">${esc(fmt(v))}</span>`
const dur = (a: string | null, b: string | null): string => {
  if (!a || !b) return '–'
  const s = (Date.parse(b) - Date.parse(a)) / 1000
  return s < 90 ? `${s.toFixed(1)} s` : s < 5400 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`
}

function summarySection(d: ReportData): string {
  const headline = d.metricKeys.filter((k) => !/^(lr|grad_norm)$/.test(k)).slice(0, 3)
  const rows = d.runs.map((r) => [
    `<b>${r.id}</b>`,
    esc(r.name),
    esc(r.methodLabel),
    `<span class="status s-${esc(r.status)}">${esc(r.status)}</span>${r.error ? `<div class="err">${esc(r.error)}</div>` : ''}`,
    num(r.seed),
    esc(r.backend ?? '–'),
    esc(r.dataset ? r.dataset.name : '–'),
    num(r.lastStep),
    esc(dur(r.startedAt, r.endedAt)),
    ...headline.map((k) => num(r.final[k]))
  ])
  return `<section id="summary"><h2>Runs</h2>${table(['run', 'name', 'method', 'status', 'seed', 'backend', 'dataset', 'steps', 'time', ...headline.map(esc)], rows)}</section>`
}

function curvesSection(d: ReportData, forPrint: boolean): string {
  if (d.metricKeys.length === 0) return `<section id="curves"><h2>Curves</h2><p class="muted">No metrics were logged.</p></section>`
  const charts = d.metricKeys
    .map(
      (k, i) =>
        `<figure class="chart-card"><figcaption title="${esc(METRIC_HELP[k] ? `${k}: ${METRIC_HELP[k]}` : k)}"><b>${esc(k)}</b>${METRIC_HELP[k] ? ` <span class="muted">— ${esc(METRIC_HELP[k])}</span>` : ''}</figcaption><div class="chart" id="curve-${i}" data-key="${esc(k)}"></div></figure>`
    )
    .join('')
  return `<section id="curves"><h2>Curves</h2><p class="muted">${forPrint ? '' : 'Drag to zoom, double-click to reset, click a legend entry to hide a run. '}x axis: training step.</p><div class="grid">${charts}</div></section>`
}

function weightsSection(d: ReportData): string {
  const withSnap = d.runs.filter((r) => r.snapshot)
  if (withSnap.length === 0) {
    return `<section id="weights"><h2>Importance weights</h2><p class="muted">No weight snapshots (a run stopped before its first snapshot has none).</p></section>`
  }
  const rows = withSnap.map((r) => {
    const s = r.snapshot!
    return [
      `<b>${r.id}</b> ${esc(r.methodLabel)}`,
      r.weightsInLoss ? 'yes' : '<b>no</b> (w = 1)',
      num(s.step),
      num(s.count),
      num(s.stats.ess_fraction),
      num(s.stats.clamp_fraction),
      num(s.stats.logw_raw_min),
      num(s.stats.logw_raw_median),
      num(s.stats.logw_raw_max),
      num(s.stats.logw_median)
    ]
  })
  const notInLoss = withSnap.filter((r) => !r.weightsInLoss)
  const wCaption =
    notInLoss.length === 0
      ? 'the weight used in the loss'
      : notInLoss.length === withSnap.length
        ? 'the weight iw-SFT would use; NOT in these runs’ loss'
        : 'the weight in the loss of the iw-SFT runs (not of the others)'
  const note = notInLoss.length
    ? `<p class="note">${notInLoss.map((r) => `Run ${r.id} (${esc(r.methodLabel)})`).join(', ')} ${notInLoss.length > 1 ? 'do' : 'does'} not weight traces: every trace counted with w = 1 in ${notInLoss.length > 1 ? 'their' : 'its'} loss. The weights below are what iw-SFT would give the same traces under ${notInLoss.length > 1 ? 'those runs’' : 'that run’s'} q and π<sub>ref</sub>, shown for comparison.</p>`
    : ''
  return `<section id="weights"><h2>Importance weights at the last snapshot</h2>${note}
<div class="grid">
<figure class="chart-card"><figcaption><b>raw log w</b> <span class="muted">— before the clamp, one value per curated trace</span></figcaption><div class="chart" id="hist-logw"></div></figure>
<figure class="chart-card"><figcaption><b>w</b> <span class="muted">— ${wCaption} (clamped${d.runs.some((r) => r.config.weights.normalize) ? ', normalised' : ''})</span></figcaption><div class="chart" id="hist-w"></div></figure>
</div>
${table(['run', 'in the loss', 'step', 'traces', 'ESS fraction', 'clamp fraction', 'log w raw min', 'median', 'max', 'log w median'], rows)}</section>`
}

function diagnosticsSection(d: ReportData): string {
  const diag = diagnosticsTable(d)
  if (diag.rows.length === 0) return ''
  const warn = diag.warnings.length ? `<ul class="warnings">${diag.warnings.map((w) => `<li class="err">warning: ${esc(w)}</li>`).join('')}</ul>` : ''
  return `<section id="diagnostics"><h2>Weight diagnostics</h2><p class="muted">At the last snapshot, over the curated set as the loss samples it (a trace of quality-bin multiplicity m counts m times): ESS/N, the share of the weight held by the top 1 and top 5 traces, the traces the clamp changed and their share of the weight, Spearman rank correlation of w with the score and with the quality bin, the mean log ratio ρ per step, and π_ref’s action σ (Gaussian policies).</p>${warn}${table(
    diag.head.map(esc),
    diag.rows.map((r) => [esc(r[0]), ...r.slice(1).map((c) => `<span class="num">${esc(c)}</span>`)])
  )}</section>`
}

function dataSection(d: ReportData): string {
  const seen = new Map<string, ReportRun[]>()
  for (const r of d.runs) {
    const key = `${r.dataset?.id ?? 'none'}|${r.curation?.rule ?? ''}`
    seen.set(key, [...(seen.get(key) ?? []), r])
  }
  let i = 0
  const blocks = [...seen.values()].map((rs) => {
    const r = rs[0]
    const ds = r.dataset
    const c = r.curation
    const id = `scores-${i++}`
    const who = d.runs.length > 1 ? `<p class="muted">${rs.length > 1 ? 'Runs' : 'Run'} ${rs.map((x) => x.id).join(', ')}</p>` : ''
    if (!ds) return `<div class="data-block">${who}<p class="muted">No dataset recorded for this run.</p></div>`
    const dsTable = table(
      ['dataset', 'kind', 'traces', 'steps', 'obs dim', 'act dim', 'scores', 'source', 'hash'],
      [
        [
          esc(ds.name),
          esc(ds.kind),
          num(ds.numTraces),
          num(ds.numSteps),
          num(ds.obsDim),
          num(ds.actDim),
          `${esc(fmt(ds.scoreMin))} … ${esc(fmt(ds.scoreMax))}`,
          `<code>${esc(ds.source)}</code>`,
          `<code>${esc(ds.hash.slice(0, 12))}</code>`
        ]
      ]
    )
    const cur = c
      ? `<h3>Curation: ${esc(c.rule)}</h3><p>${num(c.kept)} of ${num(c.numTraces)} traces kept (${esc(fmt((100 * c.kept) / Math.max(1, c.numTraces), 3))}%)${c.mode === 'quality_bins' ? `; ${num(c.total)} with multiplicity (|D<sub>Q</sub>+|)` : ''}${c.thresholds.length ? `; score thresholds ${c.thresholds.map((t) => esc(fmt(t))).join(', ')}` : ''}.</p>
${table(
  ['bin', 'traces', 'share'],
  c.bins.map((b) => [esc(b.label), num(b.count), `${esc(fmt((100 * b.count) / Math.max(1, c.numTraces), 3))}%`]),
  'narrow'
)}
<figure class="chart-card"><figcaption><b>scores</b> <span class="muted">— all traces and the kept ones</span></figcaption><div class="chart" id="${id}" data-run="${r.id}"></div></figure>`
      : ''
    return `<div class="data-block">${who}${dsTable}${cur}</div>`
  })
  return `<section id="data"><h2>Data and curation</h2>${blocks.join('')}</section>`
}

/** A run's column head: its id, then its method (and group) on a line of its own, so that the
 *  table stays narrow and no name breaks inside a word. */
const runHead = (r: ReportRun): string => `<span title="${esc(r.name)}">run ${r.id}</span><br><span class="muted sub">${esc(r.methodLabel)}${r.group ? ` · ${esc(r.group)}` : ''}</span>`

function finalSection(d: ReportData): string {
  const keys = [...new Set([...d.metricKeys, ...d.runs.flatMap((r) => Object.keys(r.final))])]
  if (keys.length === 0) return ''
  const rows = keys.map((k) => [`<code>${esc(k)}</code>`, ...d.runs.map((r) => num(r.final[k]))])
  return `<section id="final"><h2>Final metrics</h2><p class="muted">Last logged value of each metric${d.runs.some((r) => r.checkpoints.length) ? ' (and the final checkpoint’s evaluation)' : ''}.</p>${table(['metric', ...d.runs.map(runHead)], rows, 'final')}</section>`
}

/** Settings run with several seeds: each final metric as mean ± std over the seeds. */
function groupsSection(d: ReportData): string {
  if (!d.groups.length) return ''
  const keys = [...new Set(d.groups.flatMap((g) => Object.keys(g.final)))]
  const order = [...d.metricKeys, ...keys.filter((k) => !d.metricKeys.includes(k))].filter((k) => keys.includes(k))
  const ms = (v: { mean: number; std: number; n: number } | undefined): string => (v ? `<span class="num">${esc(fmt(v.mean))} ± ${esc(fmt(v.std))}</span>` : '–')
  const rows = order.map((k) => [`<code>${esc(k)}</code>`, ...d.groups.map((g) => ms(g.final[k]))])
  return `<section id="groups"><h2>Groups: mean ± std over seeds</h2><p class="muted">Runs whose configurations differ only in seed, name and group, aggregated (sample standard deviation).</p>${table(['metric', ...d.groups.map((g) => esc(g.label))], rows, 'final')}</section>`
}

function configSection(d: ReportData, forPrint: boolean): string {
  const multi = d.runs.length > 1
  const head = ['setting', ...d.runs.map((r) => esc(multi ? runLabel(r) : 'value'))]
  const val = (v: string): string => (v === '–' ? '<span class="muted">–</span>' : `<code>${esc(v)}</code>`)
  const row = (c: ReportData['config'][number]): string[] => [`<code>${esc(c.key)}</code>`, ...c.values.map(val)]
  if (!multi) {
    const groups = new Map<string, ReportData['config']>()
    for (const c of d.config) {
      const g = c.key.includes('.') ? c.key.slice(0, c.key.indexOf('.')) : 'run'
      groups.set(g, [...(groups.get(g) ?? []), c])
    }
    const cards = [...groups].map(
      ([g, cs]) =>
        `<div class="config-card"><h3>${esc(g)}</h3>${table(
          ['setting', 'value'],
          cs.map((c) => [`<code>${esc(g === 'run' ? c.key : c.key.slice(g.length + 1))}</code>`, `<code>${esc(c.values[0])}</code>`]),
          'config'
        )}</div>`
    )
    return `<section id="config"><h2>Configuration</h2><div class="config-grid">${cards.join('')}</div></section>`
  }
  const diff = d.config.filter((c) => c.differs)
  const same = d.config.filter((c) => !c.differs)
  return `<section id="config"><h2>Configuration</h2>
<h3>What differs between the runs</h3>${diff.length ? table(head, diff.map(row), 'config') : '<p class="muted">Nothing: the runs share one configuration.</p>'}
<details${forPrint ? ' open' : ''}><summary>Settings shared by all runs (${same.length})</summary>${table(
    ['setting', 'value'],
    same.map((c) => [`<code>${esc(c.key)}</code>`, `<code>${esc(c.values[0])}</code>`]),
    'config'
  )}</details></section>`
}

function reproSection(d: ReportData): string {
  const versionKeys = [...new Set(d.runs.flatMap((r) => Object.keys(r.versions)))].sort()
  const rows: string[][] = [
    ['seed', ...d.runs.map((r) => num(r.seed))],
    ['data seed', ...d.runs.map((r) => (r.dataSeed === null ? '<span class="muted">= seed</span>' : num(r.dataSeed)))],
    ['backend', ...d.runs.map((r) => esc(r.backend ?? '–'))],
    ['data hash', ...d.runs.map((r) => `<code>${esc(r.dataHash ?? '–')}</code>`)],
    ['created', ...d.runs.map((r) => esc(r.createdAt))],
    ['started → ended', ...d.runs.map((r) => esc(`${r.startedAt ?? '–'} → ${r.endedAt ?? '–'}`))],
    ['checkpoints (steps)', ...d.runs.map((r) => esc(r.checkpoints.map((c) => c.step).join(', ') || '–'))],
    ...versionKeys.map((k) => [`version: ${esc(k)}`, ...d.runs.map((r) => `<code>${esc(r.versions[k] ?? '–')}</code>`)])
  ]
  return `<section id="repro"><h2>Seeds, backend and versions</h2>${table(['', ...d.runs.map((r) => esc(d.runs.length > 1 ? runLabel(r) : `run ${r.id}`))], rows)}
<p class="muted">Same seed, same backend and the same data hash reproduce a run's metrics exactly.</p></section>`
}

const CSS = `
:root{color-scheme:light dark;--bg:#fbfbfa;--card:#ffffff;--fg:#1f2328;--muted:#656d76;--line:#d8dee4;--zebra:#f4f6f8;--accent:#3b6fb6;--code:#eef1f4;--ok:#2f7d4f;--bad:#b3372f;--warn:#9a6700}
@media (prefers-color-scheme: dark){:root{--bg:#15181c;--card:#1c2026;--fg:#e3e6ea;--muted:#99a2ad;--line:#333a43;--zebra:#21262d;--accent:#79a6e8;--code:#262c34;--ok:#5cc98a;--bad:#f08a80;--warn:#e3b341}}
*{box-sizing:border-box}
html{background:var(--bg)}
body{margin:0 auto;max-width:1180px;padding:28px 28px 60px;font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
header h1{font-size:1.55rem;line-height:1.25;margin:0 0 6px;font-weight:650}
header .meta{color:var(--muted);font-size:.88rem}
nav{margin:16px 0 8px;display:flex;flex-wrap:wrap;gap:6px 16px;font-size:.9rem}
nav a{color:var(--accent);text-decoration:none}
nav a:hover{text-decoration:underline}
section{margin-top:30px}
h2{font-size:1.2rem;font-weight:620;margin:0 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:1rem;font-weight:600;margin:18px 0 8px}
p{margin:6px 0 10px}
.muted{color:var(--muted)}
.num{font-variant-numeric:tabular-nums}
code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--code);padding:1px 5px;border-radius:4px;word-break:break-all}
.table-wrap{overflow-x:auto;margin:8px 0 14px}
table{border-collapse:collapse;font-size:.88rem;min-width:40%}
table.narrow{min-width:0}
th,td{text-align:left;padding:5px 12px 5px 0;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);white-space:nowrap}
tbody tr:nth-child(even) td{background:var(--zebra)}
td:first-child,th:first-child{padding-left:8px}
table.config td:first-child{white-space:nowrap}
table.final{min-width:0}
table.final code{word-break:normal;white-space:nowrap}
table.final th{white-space:normal;min-width:5.5em}
table.final td{white-space:nowrap}
.sub{font-weight:400;font-size:.8rem}
.note{border-left:3px solid var(--warn);padding:4px 10px}
.status{font-weight:600}.s-completed{color:var(--ok)}.s-failed,.s-interrupted{color:var(--bad)}.s-cancelled,.s-running,.s-queued{color:var(--warn)}
.err{color:var(--bad);font-size:.82rem;max-width:28em}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:14px}
figure{margin:0}
.chart-card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px 6px}
.chart-card figcaption{font-size:.88rem;margin-bottom:2px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.chart{width:100%;height:270px}
.data-block{margin-bottom:18px}
.config-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:4px 24px;align-items:start}
.config-card h3{margin:8px 0 0;font-size:.92rem;color:var(--muted)}
.config-card table{width:100%}
html.print .config-grid{grid-template-columns:1fr 1fr}
html.print .config-card{break-inside:avoid}
.data-block .chart-card{max-width:720px}
details{margin:10px 0}
summary{cursor:pointer;color:var(--accent)}
footer{margin-top:40px;color:var(--muted);font-size:.82rem;border-top:1px solid var(--line);padding-top:10px}
.noscript{color:var(--warn)}
html.print{--bg:#fff;--card:#fff;--fg:#111;--muted:#555;--line:#ccc;--zebra:#f5f5f5;--code:#f0f0f0;--accent:#2a5ea8;color-scheme:light}
html.print body{max-width:none;padding:0;font-size:12.5px}
html.print nav{display:none}
html.print .grid{display:grid;grid-template-columns:1fr 1fr;gap:8px}
html.print .chart-card{break-inside:avoid;padding:5px 6px 2px}
html.print .chart-card figcaption{font-size:10.5px}
html.print .chart{width:318px;height:190px}
html.print .data-block .chart-card{max-width:none;width:334px}
html.print table{font-size:10px}
html.print th{white-space:normal}
html.print th,html.print td{padding:3px 8px 3px 0}
html.print code{font-size:9.5px}
html.print h2{break-after:avoid}
html.print section{margin-top:20px}
html.print tbody tr{break-inside:avoid}
@media print{nav{display:none}.grid{display:block}.chart-card{break-inside:avoid;margin-bottom:10px}h2,h3{break-after:avoid}tbody tr{break-inside:avoid}}
@page{size:A4;margin:14mm 13mm}
`

// Runs in the page: draws every chart from the embedded report data.
const CLIENT = `
(function(){
  var D = JSON.parse(document.getElementById('iwsft-report-data').textContent);
  var PRINT = document.documentElement.classList.contains('print');
  var DASH = ['solid','dash','dot','dashdot','longdash','longdashdot'];
  var PAL = ['#3b6fb6','#d1733a','#2f9a6e','#b5487d','#7d6bb3','#a08a2d','#3ea3bd','#8a8f96'];
  function done(){ window.${REPORT_READY_FLAG} = true; document.documentElement.setAttribute('data-ready','1'); }
  if (typeof Plotly === 'undefined') { document.querySelectorAll('.chart').forEach(function(el){ el.innerHTML = '<p class="noscript">Charts need JavaScript (plotly is inlined in this file).</p>'; }); done(); return; }
  function css(n){ return getComputedStyle(document.documentElement).getPropertyValue(n).trim(); }
  function label(r){ return r.id + ' · ' + r.methodLabel + (r.group ? ' · ' + r.group : ''); }
  var multi = D.runs.length > 1;
  function layout(xt, yt, extra){
    var fg = css('--fg'), muted = css('--muted'), grid = css('--line');
    var l = { margin:{l:58,r:14,t:8,b:40}, paper_bgcolor:'rgba(0,0,0,0)', plot_bgcolor:'rgba(0,0,0,0)',
      font:{family:'system-ui,-apple-system,Segoe UI,Roboto,Arial,sans-serif', size:12, color:fg},
      xaxis:{title:{text:xt, font:{size:11,color:muted}}, gridcolor:grid, zerolinecolor:grid, linecolor:grid, automargin:true},
      yaxis:{title:{text:yt, font:{size:11,color:muted}}, gridcolor:grid, zerolinecolor:grid, linecolor:grid, automargin:true, exponentformat:'power'},
      showlegend: multi, legend:{orientation:'h', y:1.02, yanchor:'bottom', x:0, font:{size: PRINT ? 9 : 11}}, hovermode:'x unified' };
    if (multi) l.margin.t = 30;
    if (extra) for (var k in extra) l[k] = extra[k];
    return l;
  }
  var cfg = { displaylogo:false, responsive:!PRINT, staticPlot:PRINT, modeBarButtonsToRemove:['lasso2d','select2d','autoScale2d'] };
  function centers(e){ var c=[]; for (var i=0;i+1<e.length;i++) c.push((e[i]+e[i+1])/2); return c; }
  function draw(){
    var jobs = [];
    document.querySelectorAll('[id^="curve-"]').forEach(function(el){
      var key = el.getAttribute('data-key');
      var traces = D.runs.filter(function(r){ return r.metrics[key]; }).map(function(r){
        var m = r.metrics[key], i = D.runs.indexOf(r);
        return { x:m.steps, y:m.values, name:label(r), type:'scatter', mode: m.steps.length > 1 ? 'lines' : 'markers', line:{color:PAL[i%PAL.length], width:2, dash:DASH[i%DASH.length]}, marker:{color:PAL[i%PAL.length], size:6}, hovertemplate:'%{y:.4g}<extra>'+label(r)+'</extra>' };
      });
      jobs.push(Plotly.react(el, traces, layout('step', ''), cfg));
    });
    ['logw','w'].forEach(function(which){
      var el = document.getElementById('hist-' + which); if (!el) return;
      var traces = D.runs.filter(function(r){ return r.snapshot; }).map(function(r){
        var h = which === 'logw' ? r.snapshot.logWRaw : r.snapshot.w, i = D.runs.indexOf(r);
        var w = h.edges.length > 1 ? h.edges[1]-h.edges[0] : 1;
        var t = { x:centers(h.edges), y:h.counts, type:'bar', name:label(r), marker:{color:PAL[i%PAL.length], opacity:0.85}, hovertemplate:'%{x:.3g}: %{y}<extra>'+label(r)+'</extra>' };
        if (!multi) t.width = w;
        return t;
      });
      jobs.push(Plotly.react(el, traces, layout(which === 'logw' ? 'raw log w' : 'w', 'traces', {barmode: multi ? 'group' : 'overlay', bargap:0.04, bargroupgap:0, hovermode:'closest'}), cfg));
    });
    document.querySelectorAll('[id^="scores-"]').forEach(function(el){
      var id = Number(el.getAttribute('data-run'));
      var r = D.runs.filter(function(x){ return x.id === id; })[0]; if (!r || !r.curation) return;
      var s = r.curation.scores, x = centers(s.edges), w = s.edges.length > 1 ? s.edges[1]-s.edges[0] : 1;
      var grey = css('--muted');
      var traces = [
        { x:x, y:s.all, width:w, type:'bar', name:'all traces', marker:{color:grey, opacity:0.35}, hovertemplate:'%{x:.3g}: %{y}<extra>all</extra>' },
        { x:x, y:s.kept, width:w, type:'bar', name:'kept', marker:{color:PAL[0], opacity:0.85}, hovertemplate:'%{x:.3g}: %{y}<extra>kept</extra>' }
      ];
      var shapes = r.curation.thresholds.map(function(t){ return { type:'line', x0:t, x1:t, yref:'paper', y0:0, y1:1, line:{color:PAL[1], width:1.5, dash:'dot'} }; });
      var l = layout('score S(τ)', 'traces', {barmode:'overlay', bargap:0.04, shapes:shapes, showlegend:true, hovermode:'closest'});
      l.margin.t = 30;
      jobs.push(Plotly.react(el, traces, l, cfg));
    });
    return Promise.all(jobs);
  }
  draw().then(done, function(e){ console.error(e); done(); });
  if (!PRINT && window.matchMedia) {
    var mq = window.matchMedia('(prefers-color-scheme: dark)');
    var redraw = function(){ draw(); };
    if (mq.addEventListener) mq.addEventListener('change', redraw); else if (mq.addListener) mq.addListener(redraw);
  }
})();
`

/** The whole report as one HTML document. */
export function renderHtml(d: ReportData, opts: HtmlOptions = {}): string {
  const forPrint = !!opts.forPrint
  const plotly = opts.plotlySource ?? plotlySource()
  const generated = `${esc(d.generatedBy)} · ${esc(d.generatedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))} · project <code>${esc(d.project)}</code>`
  const body = [
    summarySection(d),
    curvesSection(d, forPrint),
    weightsSection(d),
    diagnosticsSection(d),
    dataSection(d),
    groupsSection(d),
    finalSection(d),
    configSection(d, forPrint),
    reproSection(d)
  ].join('\n')
  return `<!doctype html>
<html lang="en"${forPrint ? ' class="print"' : ''}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="${forPrint ? 'light' : 'light dark'}">
<meta name="generator" content="${esc(d.generatedBy)}">
<title>${esc(d.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>${esc(d.title)}</h1><div class="meta">${generated}</div></header>
<nav><a href="#summary">Runs</a><a href="#curves">Curves</a><a href="#weights">Weights</a><a href="#data">Data and curation</a>${d.groups.length ? '<a href="#groups">Groups</a>' : ''}<a href="#final">Final metrics</a><a href="#config">Configuration</a><a href="#repro">Seeds and versions</a></nav>
<noscript><p class="noscript">Charts need JavaScript; the tables below are complete without it.</p></noscript>
${body}
<footer>Importance-weighted SFT (Qin &amp; Springenberg 2025). This file is self-contained: charts are drawn by plotly.js, included in the file; nothing is loaded from the network.</footer>
<script>${plotly}</script>
<script type="application/json" id="iwsft-report-data">${scriptJson(d)}</script>
<script>${CLIENT}</script>
</body>
</html>
`
}
