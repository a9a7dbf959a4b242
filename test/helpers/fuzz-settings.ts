/**
 * Property and fuzz tests run a fixed number of inputs from a fixed seed, so a failure repeats.
 * `MUXADO_FUZZ_RUNS=n` and `MUXADO_FUZZ_SEED=n` override both, for longer or different runs.
 */

function envInteger (name: string): number | undefined {
  const value = Number(process.env[name])
  return Number.isInteger(value) && process.env[name] !== '' ? value : undefined
}

/** `MUXADO_FUZZ_RUNS` when it is set and positive, else the suite's `defaultRuns` */
export function fuzzRuns (defaultRuns: number): number {
  const runs = envInteger('MUXADO_FUZZ_RUNS')
  return runs != null && runs > 0 ? runs : defaultRuns
}

/** `MUXADO_FUZZ_SEED` when it is set, else the suite's `defaultSeed` */
export function fuzzSeed (defaultSeed: number): number {
  return envInteger('MUXADO_FUZZ_SEED') ?? defaultSeed
}

/** fast-check's `seed` and `numRuns` for one property */
export function propertyRuns (defaultRuns: number, defaultSeed: number): { seed: number, numRuns: number } {
  return { seed: fuzzSeed(defaultSeed), numRuns: fuzzRuns(defaultRuns) }
}
