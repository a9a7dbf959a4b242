/**
 * Benchmark runner. Usage (after building):
 * `node --expose-gc --import ./test/polyfill.mjs dist/benchmarks/run.js [--quick] [--only a,b] [--reps N] [--out name]`
 *
 * Scenarios: bulk-tcp, bulk-memlite, bulk-memwhole, bulk-noise, bulk-net-api, streams, open, rtt, memory, wan-throughput, wan-paused (`--only`
 * matches prefixes, so `--only bulk` runs the four bulk scenarios). Results go to benchmarks/results/<name>.{md,json,svg};
 * the name is `latest` for a full run and `quick` otherwise. Progress goes to stderr.
 */
import '../test/polyfill.mjs'
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { parseArgs } from 'node:util'
import { ROOT, environment } from './env.ts'
import { hasGc, progress } from './harness.ts'
import { LoopbackServer } from './pairs.ts'
import { json, markdown } from './report.ts'
import { bulk } from './scenarios/bulk.ts'
import { latency } from './scenarios/latency.ts'
import { memory } from './scenarios/memory.ts'
import { bulkNetApi } from './scenarios/net-api.ts'
import { bulkNoise } from './scenarios/noise.ts'
import { open } from './scenarios/open.ts'
import { streams } from './scenarios/streams.ts'
import { paused, wan } from './scenarios/wan.ts'
import { svg } from './svg.ts'
import type { ScenarioResult } from './harness.ts'

const MiB = 1024 * 1024

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    reps: { type: 'string' },
    out: { type: 'string' }
  }
})

const quick = args.quick === true
const repsOverride = args.reps != null ? Number(args.reps) : undefined
if (repsOverride != null && (!Number.isInteger(repsOverride) || repsOverride < 1)) { throw new Error(`--reps must be a positive integer, got ${args.reps}`) }
const only = args.only?.split(',').map(s => s.trim()).filter(s => s !== '')
/** full runs repeat each scenario enough times (at least 5 where a run is short) for stable medians; --quick trades precision for < 1 minute */
const reps = (full: number, fast: number): number => repsOverride ?? (quick ? fast : full)

interface Plan {
  id: string
  run(server: LoopbackServer): Promise<ScenarioResult | ScenarioResult[]>
}

// The issue targets are medians of paired ratios, and this VM's speed drifts by tens of percent
// within a run: enough pairs that one slow phase does not decide a median
const plans: Plan[] = [
  { id: 'bulk-tcp', run: async server => bulk({ transport: 'tcp', server, total: (quick ? 32 : 256) * MiB, reps: reps(11, 3) }) },
  // memlite runs are short, so they get more repetitions
  { id: 'bulk-memlite', run: async server => bulk({ transport: 'memlite', server, total: (quick ? 32 : 256) * MiB, reps: reps(21, 3) }) },
  { id: 'bulk-memwhole', run: async server => bulk({ transport: 'memwhole', server, total: (quick ? 32 : 256) * MiB, reps: reps(21, 3) }) },
  // what a libp2p user runs: Noise costs more than the muxer, so this one shows the muxer's share
  { id: 'bulk-noise', run: async () => bulkNoise({ total: (quick ? 16 : 128) * MiB, reps: reps(7, 3) }) },
  { id: 'bulk-net-api', run: async server => bulkNetApi({ server, total: (quick ? 32 : 256) * MiB, reps: reps(7, 3) }) },
  { id: 'streams', run: async server => streams({ server, count: 100, size: MiB, reps: reps(11, 3) }) },
  { id: 'open', run: async server => open({ server, total: quick ? 2_000 : 10_000, inFlight: 100, reps: reps(5, 3) }) },
  { id: 'rtt', run: async server => latency({ server, warmup: quick ? 200 : 1_000, count: quick ? 2_000 : 10_000, reps: reps(9, 3) }) },
  { id: 'memory', run: async () => memory({ count: 100, size: MiB, reps: reps(11, 2) }) },
  // over an emulated 1 Gbit/s link; minutes, not seconds, so only with --only wan or a full run
  { id: 'wan-throughput', run: async server => wan({ server, rttMs: [20, 50, 100], total: (quick ? 64 : 256) * MiB, reps: reps(5, 2) }) },
  {
    id: 'wan-paused',
    run: async server => [
      await paused({ server, rttMs: 50, streams: 1, readFirst: 32 * MiB, offer: 32 * MiB, reps: reps(3, 1) }),
      await paused({ server, rttMs: 50, streams: 100, readFirst: MiB, offer: MiB, reps: reps(3, 1) })
    ]
  }
]

const selected = only == null ? plans : plans.filter(p => only.some(o => p.id.startsWith(o)))
if (selected.length === 0) { throw new Error(`--only ${args.only} matches none of: ${plans.map(p => p.id).join(', ')}`) }
if (!hasGc()) { progress('warning: gc() is not exposed; run node with --expose-gc for comparable numbers') }

const mode = [
  quick ? 'quick' : 'full',
  only != null ? `only ${only.join(',')}` : '',
  repsOverride != null ? `reps ${repsOverride}` : ''
].filter(s => s !== '').join(', ')
const env = environment(mode)
const started = Date.now()
const server = await LoopbackServer.start()
const scenarios: ScenarioResult[] = []
for (const plan of selected) {
  progress(`# ${plan.id}`)
  for (const result of [await plan.run(server)].flat()) {
    progress(`  ${result.id} done in ${(result.elapsedMs / 1e3).toFixed(1)} s${result.issues.length > 0 ? `, ${result.issues.length} issue(s)` : ''}`)
    scenarios.push(result)
  }
}
await server.close()

const name = args.out ?? (quick || only != null || repsOverride != null ? 'quick' : 'latest')
const report = {
  env,
  loadavgEnd: os.loadavg().map(n => Math.round(n * 100) / 100),
  elapsedMs: Date.now() - started,
  scenarios
}
const dir = new URL('benchmarks/results/', ROOT)
mkdirSync(dir, { recursive: true })
writeFileSync(new URL(`${name}.md`, dir), markdown(report, `${name}.svg`))
writeFileSync(new URL(`${name}.json`, dir), json(report))
writeFileSync(new URL(`${name}.svg`, dir), svg(report))
progress(`wrote benchmarks/results/${name}.{md,json,svg} in ${((Date.now() - started) / 1e3).toFixed(1)} s`)
// yamux keep-alive timers and half-closed sockets of aborted runs must not keep the process alive
process.exit(0)
