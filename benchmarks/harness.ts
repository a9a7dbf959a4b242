/**
 * The repetition loop every scenario shares: one untimed warm-up per variant, then `reps` rounds
 * with the variant order rotated each round (so each variant sits in each slot equally often) and
 * a young-generation collection before every measured run (`collectYoungGarbage`). Ratios are
 * paired per round, which cancels most of the noise from neighbours on a shared machine.
 */
import os from 'node:os'
import { GCProfiler } from 'node:v8'
import { MUXERS } from './muxers.ts'
import { pairedRatios, summarise } from './stats.ts'
import type { Summary } from './stats.ts'

export interface MetricDef {
  key: string
  label: string
  /** printed after the label, e.g. 'MB/s' */
  unit: string
  better: 'higher' | 'lower'
}

export interface RatioResult {
  numerator: string
  denominator: string
  metric: string
  values: number[]
  summary: Summary
}

export interface ScenarioResult {
  id: string
  title: string
  /** a few words for the chart */
  short: string
  notes: string[]
  reps: number
  variants: string[]
  metrics: MetricDef[]
  /** metric keys that go into the headline table and the chart */
  headline: string[]
  /** per variant, one record of metric values per repetition (index = rotation round) */
  runs: Record<string, Array<Record<string, number>>>
  summary: Record<string, Record<string, Summary>>
  ratios: RatioResult[]
  elapsedMs: number
  loadavg: [number, number]
  /** errors, timeouts and failed teardowns seen during the runs */
  issues: string[]
}

export type Metrics = Record<string, number>

/** What moving the bytes cost in memory traffic: fresh pages touched and collector time */
export const MEMORY_TRAFFIC_METRICS: MetricDef[] = [
  { key: 'faultsPerMiB', label: 'page faults per MiB', unit: 'faults/MiB', better: 'lower' },
  { key: 'gcMsPerMiB', label: 'GC ms per MiB', unit: 'ms/MiB', better: 'lower' },
  { key: 'majorGcsPer64MiB', label: 'major GCs per 64 MiB', unit: 'per 64 MiB', better: 'lower' }
]

export interface RotationOptions {
  id: string
  title: string
  short: string
  notes?: string[]
  variants: string[]
  reps: number
  metrics: MetricDef[]
  headline: string[]
  /** the variant every ratio is taken of */
  subject?: string
  /** metrics for which ratios against the non-muxer baselines make sense (default: all) */
  baselineRatios?: string[]
  /** a run that takes longer than this is recorded as a hang and its metrics as NaN */
  timeoutMs?: number
  warmup?: boolean
  run(variant: string, issues: string[]): Promise<Metrics>
}

const gc: (options?: { type: 'major' | 'minor' }) => void = (globalThis as any).gc ?? (() => {})

/**
 * Before a measured run: collect the young generation, so one variant's fresh garbage is not
 * collected on the next one's clock. Not a full `gc()`, which the shared method names: on this VM
 * a forced full collection hands the heap's pages back, and the run after it collects more often
 * and faults its pages in again; in memory every muxer ran 4–7× slower after one (15–18 page
 * faults per MiB instead of 4–8), which measured the VM, not the muxer.
 */
export function collectYoungGarbage (): void {
  gc({ type: 'minor' })
}

export function hasGc (): boolean {
  return typeof (globalThis as any).gc === 'function'
}

export function progress (msg: string): void {
  process.stderr.write(`${msg}\n`)
}

export interface Elapsed {
  ms: number
  /** user + sys of the whole process: both ends of the connection live here */
  cpuMs: number
  /** pages touched for the first time: on a PVM guest each costs 12–34 µs */
  minorFaults: number
  gcMs: number
  majorGcs: number
}

/** Wall and CPU time, page faults, and every collection V8 ran meanwhile */
export function startClock (): () => Elapsed {
  const t0 = process.hrtime.bigint()
  const c0 = process.cpuUsage()
  const faults0 = process.resourceUsage().minorPageFault
  const collections = new GCProfiler()
  collections.start()
  return () => {
    const cpu = process.cpuUsage(c0)
    const { statistics } = collections.stop()
    return {
      ms: Number(process.hrtime.bigint() - t0) / 1e6,
      cpuMs: (cpu.user + cpu.system) / 1000,
      minorFaults: process.resourceUsage().minorPageFault - faults0,
      // cost is in µs
      gcMs: statistics.reduce((sum, gc) => sum + gc.cost, 0) / 1e3,
      majorGcs: statistics.filter(gc => gc.gcType === 'MarkSweepCompact').length
    }
  }
}

async function withTimeout<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`${what} did not finish within ${ms} ms`)) }, ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

export async function runRotated (opts: RotationOptions): Promise<ScenarioResult> {
  const started = Date.now()
  const load0 = os.loadavg()[0]
  const issues: string[] = []
  const timeoutMs = opts.timeoutMs ?? 120_000
  const runOnce = async (variant: string): Promise<Metrics> => {
    try {
      return await withTimeout(opts.run(variant, issues), timeoutMs, `${opts.id}/${variant}`)
    } catch (err: any) {
      const msg = `${variant}: ${err?.message ?? String(err)}`
      issues.push(msg)
      progress(`  ! ${msg}`)
      return {}
    }
  }

  if (opts.warmup !== false) {
    for (const variant of opts.variants) { await runOnce(variant) }
  }

  const runs: ScenarioResult['runs'] = Object.fromEntries(opts.variants.map(v => [v, []]))
  for (let rep = 0; rep < opts.reps; rep++) {
    const shift = rep % opts.variants.length
    const order = [...opts.variants.slice(shift), ...opts.variants.slice(0, shift)]
    const line: string[] = []
    for (const variant of order) {
      collectYoungGarbage()
      const metrics = await runOnce(variant)
      runs[variant][rep] = metrics
      const first = opts.headline[0]
      line.push(`${variant} ${formatNumber(metrics[first])}`)
    }
    progress(`  ${opts.id} rep ${rep + 1}/${opts.reps}: ${line.join(', ')}`)
  }

  const summary: ScenarioResult['summary'] = {}
  for (const variant of opts.variants) {
    summary[variant] = {}
    for (const m of opts.metrics) { summary[variant][m.key] = summarise(runs[variant].map(r => r[m.key] ?? NaN)) }
  }

  const subject = opts.subject ?? 'muxado'
  const ratios: RatioResult[] = []
  for (const denominator of opts.variants.filter(v => v !== subject)) {
    const isBaseline = !(MUXERS as string[]).includes(denominator)
    for (const m of opts.metrics) {
      if (isBaseline && opts.baselineRatios != null && !opts.baselineRatios.includes(m.key)) { continue }
      const values = pairedRatios(
        runs[subject].map(r => r[m.key] ?? NaN),
        runs[denominator].map(r => r[m.key] ?? NaN)
      )
      ratios.push({ numerator: subject, denominator, metric: m.key, values, summary: summarise(values) })
    }
  }

  return {
    id: opts.id,
    title: opts.title,
    short: opts.short,
    notes: opts.notes ?? [],
    reps: opts.reps,
    variants: opts.variants,
    metrics: opts.metrics,
    headline: opts.headline,
    runs,
    summary,
    ratios,
    elapsedMs: Date.now() - started,
    loadavg: [load0, os.loadavg()[0]],
    issues
  }
}

/** Three significant digits, thousands separated: enough for numbers this noisy */
export function formatNumber (n: number | undefined): string {
  if (n == null || !Number.isFinite(n)) { return '–' }
  const abs = Math.abs(n)
  let digits = 3
  if (abs >= 100) { digits = 0 } else if (abs >= 10) { digits = 1 } else if (abs >= 1) { digits = 2 }
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}
