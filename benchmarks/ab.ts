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
 * [--rounds 12] [--only rtt,tcp,memlite,memwhole,streams]`
 */
import '../test/polyfill.mjs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { muxado } from '../src/index.ts'
import { collectYoungGarbage, startClock } from './harness.ts'
import { echo, readBytes, writeStrict } from './io.ts'
import { closeMuxerPair, muxerPairOf } from './muxers.ts'
import { LoopbackServer, closeConnPair, connPair } from './pairs.ts'
import { CHUNK, rates } from './scenarios/bulk.ts'
import { pingPong } from './scenarios/latency.ts'
import { transferMany } from './scenarios/streams.ts'
import { median, pairedRatios, percentile, summarise } from './stats.ts'
import type { TransportName } from './pairs.ts'
import type { StreamMuxerFactory } from '@libp2p/interface'

const MiB = 1024 * 1024

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    rounds: { type: 'string', default: '12' },
    only: { type: 'string', default: 'rtt,tcp,memlite,memwhole,streams' }
  }
})
if (args.base == null) { throw new Error('--base DIR: the root of a built checkout to compare with') }

/** metric key → value */
type Measure = Record<string, number>

interface Workload {
  id: string
  metrics: Array<{ key: string, label: string, better: 'higher' | 'lower' }>
  run(factory: StreamMuxerFactory): Promise<Measure>
}

const server = await LoopbackServer.start()
const chunk = new Uint8Array(CHUNK).fill(7)

async function roundTrips (factory: StreamMuxerFactory): Promise<Measure> {
  const conns = await connPair('tcp', server)
  const muxers = muxerPairOf(factory, conns)
  muxers.server.addEventListener('stream', evt => { echo(evt.detail) })
  const stream = await muxers.client.createStream()
  const stop = startClock()
  const samples = (await pingPong(stream, 1_000, 10_000)).sort()
  const t = stop()
  await closeMuxerPair(muxers)
  await closeConnPair(conns)
  return { p50: percentile(samples, 50), cpuUs: t.cpuMs * 1e3 / 11_000 }
}

async function bulk (factory: StreamMuxerFactory, transport: TransportName): Promise<Measure> {
  const total = 256 * MiB
  const conns = await connPair(transport, server)
  const muxers = muxerPairOf(factory, conns)
  const received = new Promise<void>((resolve, reject) => {
    muxers.server.addEventListener('stream', evt => { readBytes(evt.detail, total).then(resolve, reject) }, { once: true })
  })
  collectYoungGarbage()
  const stop = startClock()
  await Promise.all([writeStrict(await muxers.client.createStream(), chunk, total), received])
  const t = stop()
  await closeMuxerPair(muxers)
  await closeConnPair(conns)
  const r = rates(total, t)
  return { mbps: r.mbps, mbcpu: r.mbcpu }
}

async function manyStreams (factory: StreamMuxerFactory): Promise<Measure> {
  const conns = await connPair('tcp', server)
  const muxers = muxerPairOf(factory, conns)
  collectYoungGarbage()
  const stop = startClock()
  await transferMany(muxers, { count: 100, size: MiB })
  const t = stop()
  await closeMuxerPair(muxers)
  await closeConnPair(conns)
  const r = rates(100 * MiB, t)
  return { mbps: r.mbps, mbcpu: r.mbcpu }
}

const THROUGHPUT = [
  { key: 'mbps', label: 'MB/s', better: 'higher' as const },
  { key: 'mbcpu', label: 'MB per CPU-s', better: 'higher' as const }
]

const WORKLOADS: Workload[] = [
  { id: 'rtt', metrics: [{ key: 'p50', label: '64 B round trip p50 µs, tcp', better: 'lower' }, { key: 'cpuUs', label: 'CPU µs per round trip', better: 'lower' }], run: roundTrips },
  ...(['tcp', 'memlite', 'memwhole'] as const).map(transport => ({
    id: transport,
    metrics: THROUGHPUT.map(m => ({ ...m, label: `bulk ${transport} ${m.label}` })),
    run: async (factory: StreamMuxerFactory) => bulk(factory, transport)
  })),
  { id: 'streams', metrics: THROUGHPUT.map(m => ({ ...m, label: `100 streams × 1 MiB ${m.label}` })), run: manyStreams }
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
process.stdout.write(lines.join('\n') + '\n')
// heartbeat timers and half-closed sockets of a failed run must not keep the process alive
process.exit(0)
