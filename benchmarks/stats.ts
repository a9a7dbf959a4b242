/**
 * Summaries: median with min and max over repetitions, percentiles of latency samples, and
 * ratios computed per repetition (paired within one rotation round) before summarising.
 */

export interface Summary {
  median: number
  min: number
  max: number
  n: number
}

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function summarise (values: number[]): Summary {
  const finite = values.filter(Number.isFinite)
  if (finite.length === 0) { return { median: NaN, min: NaN, max: NaN, n: 0 } }
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), n: finite.length }
}

/** Nearest-rank percentile of an already sorted array */
export function percentile (sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) { return NaN }
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]
}

/** a[i] ÷ b[i] for each repetition i: both runs come from the same rotation round */
export function pairedRatios (a: number[], b: number[]): number[] {
  const out: number[] = []
  for (let i = 0; i < Math.min(a.length, b.length); i++) { out.push(a[i] / b[i]) }
  return out
}
