/**
 * A/B: this build of muxado against another build of it, in one process, after an untimed run of
 * each, alternating which goes first every round, reported as this ÷ base per round: median (min–max). For judging a change to
 * muxado itself, where the three-muxer run's spread hides a few per cent (yamux's own in-memory
 * rate moves up to twofold between runs). Connections, workloads and clocks are this build's for
 * both; only the muxer comes from the base.
 *
 * Base: a built checkout of another commit, e.g.
 * `git worktree add /tmp/base REV && ln -s "$PWD/node_modules" /tmp/base/node_modules && (cd /tmp/base && npx tsc -p .)`
 *
 * Run: `node --expose-gc --import ./test/polyfill.mjs dist/benchmarks/ab.js --base /tmp/base
 * [--rounds 12] [--only rtt,tcp,memlite,memwhole,streams,open]`
 */
import '../test/polyfill.mjs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { muxado } from '../src/index.ts'
import { collectYoungGarbage } from './harness.ts'
import { LoopbackServer } from './pairs.ts'
import { CHUNK, RATE_METRICS, bulkOnce } from './scenarios/bulk.ts'
import { roundTripsOnce } from './scenarios/latency.ts'
import { openOnce } from './scenarios/open.ts'
import { manyStreamsOnce } from './scenarios/streams.ts'
import { median, pairedRatios, summarise } from './stats.ts'
import type { Metrics } from './harness.ts'
import type { StreamMuxerFactory } from '@libp2p/interface'

const MiB = 1024 * 1024

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    rounds: { type: 'string', default: '12' },
    only: { type: 'string', default: 'rtt,tcp,memlite,memwhole,streams,open' }
  }
})
if (args.base == null) { throw new Error('--base DIR: the root of a built checkout to compare with') }

interface Workload {
  id: string
  metrics: Array<{ key: string, label: string, better: 'higher' | 'lower' }>
  run(factory: StreamMuxerFactory): Promise<Metrics>
}

const server = await LoopbackServer.start()
const chunk = new Uint8Array(CHUNK).fill(7)
/** what a run reports as going wrong (a graceful close that timed out); printed at the end */
const issues: string[] = []

// the scenarios' own single runs, with a factory in place of a muxer's name
const WORKLOADS: Workload[] = [
  {
    id: 'rtt',
    metrics: [{ key: 'p50', label: '64 B round trip p50 µs, tcp', better: 'lower' }, { key: 'cpuUs', label: 'CPU µs per round trip', better: 'lower' }],
    run: async factory => roundTripsOnce({ server, warmup: 1_000, count: 10_000, reps: 1 }, factory, issues)
  },
  ...(['tcp', 'memlite', 'memwhole'] as const).map(transport => ({
    id: transport,
    metrics: RATE_METRICS.map(m => ({ ...m, label: `bulk ${transport} ${m.label}` })),
    run: async (factory: StreamMuxerFactory) => bulkOnce({ transport, server, total: 256 * MiB, reps: 1 }, factory, chunk, issues)
  })),
  {
    id: 'open',
    metrics: [{ key: 'rate', label: 'streams opened per s, tcp', better: 'higher' }, { key: 'cpuRate', label: 'streams opened per CPU-s', better: 'higher' }],
    run: async factory => openOnce({ server, total: 10_000, inFlight: 100, reps: 1 }, factory, issues)
  },
  {
    id: 'streams',
    metrics: RATE_METRICS.map(m => ({ ...m, label: `100 streams × 1 MiB ${m.label}` })),
    run: async factory => manyStreamsOnce({ server, count: 100, size: MiB, reps: 1 }, factory, issues)
  }
]

const only = args.only.split(',')
const unknown = only.filter(id => !WORKLOADS.some(w => w.id === id))
if (unknown.length > 0) { throw new Error(`--only: no workload ${unknown.join(', ')}; there are ${WORKLOADS.map(w => w.id).join(', ')}`) }
const workloads = WORKLOADS.filter(w => only.includes(w.id))
const entry = pathToFileURL(resolve(args.base, 'dist/src/index.js')).href
const baseMuxado: typeof muxado = (await import(entry)).muxado
const builds = { this: muxado()(), base: baseMuxado()() }

// one untimed run of each workload per build first: the first run of each also compiles it
for (const workload of workloads) {
  for (const factory of Object.values(builds)) { await workload.run(factory) }
}

const results = new Map<string, { this: number[], base: number[] }>()
const rounds = Number(args.rounds)
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? ['this', 'base'] as const : ['base', 'this'] as const
  for (const workload of workloads) {
    for (const build of order) {
      collectYoungGarbage()
      const measured = await workload.run(builds[build])
      for (const [key, value] of Object.entries(measured)) {
        const entry = results.get(`${workload.id}.${key}`) ?? { this: [], base: [] }
        entry[build].push(value)
        results.set(`${workload.id}.${key}`, entry)
      }
    }
  }
  process.stderr.write(`round ${round + 1}/${rounds}\n`)
}
await server.close()

const fmt = (n: number): string => n >= 100 ? n.toFixed(0) : n.toFixed(n >= 10 ? 1 : 2)
const lines = [`A/B of ${rounds} rounds against ${resolve(args.base)}: this ÷ base per round`, '', '| metric | better | this ÷ base | this | base |', '|---|---|---|---|---|']
for (const workload of workloads) {
  for (const metric of workload.metrics) {
    const entry = results.get(`${workload.id}.${metric.key}`)
    if (entry == null) { continue }
    const ratio = summarise(pairedRatios(entry.this, entry.base))
    lines.push(`| ${metric.label} | ${metric.better} | ${ratio.median.toFixed(3)} (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}) | ${fmt(median(entry.this))} | ${fmt(median(entry.base))} |`)
  }
}
for (const issue of issues) { lines.push(`! ${issue}`) }
process.stdout.write(lines.join('\n') + '\n')
// heartbeat timers and half-closed sockets of a failed run must not keep the process alive
process.exit(0)
