/**
 * Markdown and JSON outputs. Cells are min / **median** / max over the repetitions of one process
 * run; ratios are per repetition (paired within a rotation round), summarised as median (min–max).
 */
import { formatNumber } from './harness.ts'
import { MUXERS } from './muxers.ts'
import type { Environment } from './env.ts'
import type { RatioResult, ScenarioResult } from './harness.ts'
import type { Summary } from './stats.ts'

export interface Report {
  env: Environment
  loadavgEnd: number[]
  elapsedMs: number
  scenarios: ScenarioResult[]
}

const SUBJECT = 'muxado'
const RIVALS = MUXERS.filter(m => m !== SUBJECT)

export function findRatio (s: ScenarioResult, denominator: string, metric: string): RatioResult | undefined {
  return s.ratios.find(r => r.denominator === denominator && r.metric === metric)
}

function cell (x: Summary | undefined): string {
  if (x == null || x.n === 0) { return '–' }
  return `${formatNumber(x.min)} / **${formatNumber(x.median)}** / ${formatNumber(x.max)}`
}

export function ratioText (x: Summary | undefined): string {
  if (x == null || x.n === 0) { return '–' }
  return `${x.median.toFixed(2)} (${x.min.toFixed(2)}–${x.max.toFixed(2)})`
}

function medianText (x: Summary | undefined): string {
  if (x == null || x.n === 0) { return '–' }
  return `${formatNumber(x.median)} (${formatNumber(x.min)}–${formatNumber(x.max)})`
}

/** The environment as two lines: the machine, then the load, the code and the run mode */
export function envLines (r: Report): [string, string] {
  const e = r.env
  return [
    `${e.date} · Node ${e.node} (V8 ${e.v8}) · ${e.cpu} × ${e.cores} · ${e.platform}`,
    `load average ${e.loadavg.join(' / ')} at start, ${r.loadavgEnd.join(' / ')} at end · muxado at ${e.commit} · ${e.mode} run`
  ]
}

function headline (r: Report): string[] {
  const rows = [
    '| scenario | metric | muxado | yamux | mplex | muxado ÷ yamux | muxado ÷ mplex | baselines: value; muxado ÷ baseline |',
    '|---|---|---|---|---|---|---|---|'
  ]
  for (const s of r.scenarios) {
    const baselines = s.variants.filter(v => !(MUXERS as string[]).includes(v))
    for (const key of s.headline) {
      const m = s.metrics.find(m => m.key === key)
      if (m == null) { continue }
      const base = baselines.map(b => `${b} ${formatNumber(s.summary[b][key].median)}; ${ratioText(findRatio(s, b, key)?.summary)}`).join(' · ')
      rows.push(`| ${s.title} | ${m.label} (${m.better} is better) | ${MUXERS.map(v => medianText(s.summary[v]?.[key])).join(' | ')} | ` +
        `${RIVALS.map(v => ratioText(findRatio(s, v, key)?.summary)).join(' | ')} | ${base === '' ? '–' : base} |`)
    }
  }
  return rows
}

function details (s: ScenarioResult): string[] {
  const lines = [
    `### ${s.title}`,
    '',
    `reps=${s.reps}, elapsed ${(s.elapsedMs / 1e3).toFixed(1)} s, load average ${s.loadavg[0].toFixed(2)}→${s.loadavg[1].toFixed(2)}`,
    '',
    ...s.notes.map(n => `* ${n}`),
    '',
    `| variant | ${s.metrics.map(m => m.label).join(' | ')} |`,
    `|---|${s.metrics.map(() => '---|').join('')}`
  ]
  for (const v of s.variants) { lines.push(`| ${v} | ${s.metrics.map(m => cell(s.summary[v][m.key])).join(' | ')} |`) }
  for (const d of s.variants.filter(v => v !== SUBJECT)) {
    lines.push(`| **muxado ÷ ${d}** | ${s.metrics.map(m => ratioText(findRatio(s, d, m.key)?.summary)).join(' | ')} |`)
  }
  if (s.issues.length > 0) {
    lines.push('', '**Issues during this scenario:**', '', ...s.issues.map(i => `* ${i}`))
  }
  lines.push('')
  return lines
}

export function markdown (r: Report, svgFile: string): string {
  return [
    '# libp2p-muxado benchmarks',
    '',
    envLines(r).join(' · '),
    '',
    `Packages: ${Object.entries(r.env.packages).map(([p, v]) => `${p} ${v}`).join(', ')}. Total time ${(r.elapsedMs / 1e3).toFixed(0)} s.`,
    '',
    'Every scenario ran in one process with all its variants interleaved: one untimed warm-up per variant, ' +
      'then repetitions with the variant order rotated every round and a young-generation `gc({ type: \'minor\' })` before each measured run (a full `gc()` made the next run measure page faults). ' +
      'Values are median (min–max) over the repetitions; ratios (÷) are computed per repetition from runs of the ' +
      'same rotation round and then summarised. Compare ratios, not absolute numbers across runs. MB = 10⁶ bytes. ' +
      'mplex runs with `disconnectThreshold: Infinity` (its default aborts the connection after 5 inbound streams/s).',
    '',
    '## Headline',
    '',
    ...headline(r),
    '',
    `![ratios](${svgFile})`,
    '',
    '## Details',
    '',
    'Cells are min / **median** / max.',
    '',
    ...r.scenarios.flatMap(details)
  ].join('\n')
}

export function json (r: Report): string {
  return JSON.stringify(r, (key, value) => typeof value === 'number' && !Number.isFinite(value) ? null : value, 2) + '\n'
}
