/**
 * The workload for CPU profiles: bulk transfers through one muxer only, so the profile is not
 * diluted by the other variants. Run it under `node --cpu-prof`; it records the time window of the
 * measured transfers next to the profile, and `--summarise` counts only samples inside it, which
 * leaves module loading and the warm-up out. (Starting the profiler late through `node:inspector`
 * instead misattributes samples, e.g. socket writes to `Socket.connect`.) Profiled runs are
 * slower: use them to explain, not to rank.
 *
 * Record: `node --cpu-prof --cpu-prof-dir=benchmarks/results/profiles --expose-gc --import ./test/polyfill.mjs
 * dist/benchmarks/profile.js [--muxer muxado] [--transport tcp|memlite|memwhole|noise] [--mib 256] [--runs 5]`
 * (`noise`: two libp2p nodes over TCP + Noise, as in the bulk-noise scenario)
 *
 * Summarise the newest profile: `node dist/benchmarks/profile.js --summarise benchmarks/results/profiles [--top 25]`
 */
import '../test/polyfill.mjs'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { newest, summary } from './cpuprofile.ts'
import { progress } from './harness.ts'
import { MUXERS } from './muxers.ts'
import { LoopbackServer, TRANSPORTS } from './pairs.ts'
import { CHUNK, bulkOnce } from './scenarios/bulk.ts'
import { createPair, noiseBulkOnce, stopPair } from './scenarios/noise.ts'
import type { Window } from './cpuprofile.ts'
import type { MuxerName } from './muxers.ts'

const { values: args } = parseArgs({
  options: {
    muxer: { type: 'string', default: 'muxado' },
    transport: { type: 'string', default: 'tcp' },
    mib: { type: 'string', default: '256' },
    runs: { type: 'string', default: '5' },
    top: { type: 'string', default: '25' },
    summarise: { type: 'string' }
  }
})

/** `--cpu-prof` names its file CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile; the window file carries the pid */
const windowFile = (dir: string, pid: number | string): string => join(dir, `window.${pid}.json`)

if (args.summarise != null) {
  const file = statSync(args.summarise).isDirectory() ? newest(args.summarise) : args.summarise
  const pid = basename(file).split('.')[3]
  const wf = windowFile(dirname(file), pid)
  const window: Window | undefined = existsSync(wf) ? JSON.parse(readFileSync(wf, 'utf8')) : undefined
  process.stdout.write(`Profile ${file}${window != null ? ` (${window.label}; only samples during the measured runs)` : ' (whole process)'}\n\n`)
  process.stdout.write(summary(JSON.parse(readFileSync(file, 'utf8')), Number(args.top), window))
  process.exit(0)
}

const muxer = args.muxer as MuxerName
if (!MUXERS.includes(muxer)) { throw new Error(`--muxer must be one of ${MUXERS.join(', ')}`) }
const transports = [...TRANSPORTS, 'noise'] as const
const transport = args.transport as typeof transports[number]
if (!transports.includes(transport)) { throw new Error(`--transport must be one of ${transports.join(', ')}`) }

const total = Number(args.mib) * 1024 * 1024
const chunk = new Uint8Array(CHUNK).fill(7)
const issues: string[] = []
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n)

/** The transfer to profile, and what to tear down after it */
async function workload (): Promise<{ once(): Promise<number>, stop(): Promise<void> }> {
  if (transport === 'noise') {
    const pair = await createPair(muxer, total)
    return { once: async () => (await noiseBulkOnce(pair, chunk, total)).mbps, stop: async () => { await stopPair(pair) } }
  }
  const server = await LoopbackServer.start()
  const opts = { transport, server, total, reps: 1 }
  return { once: async () => (await bulkOnce(opts, muxer, chunk, issues)).mbps, stop: async () => { await server.close() } }
}

const work = await workload()
await work.once()
const start = nowUs()
const rates: number[] = []
for (let i = 0; i < Number(args.runs); i++) {
  rates.push(await work.once())
}
const end = nowUs()
await work.stop()

const label = `${muxer}, ${transport}, ${args.runs} × ${args.mib} MiB, MB/s under the profiler: ${rates.map(r => r.toFixed(0)).join(', ')}`
progress(label)
for (const issue of issues) { progress(`! ${issue}`) }
// V8 stamps samples with the same monotonic clock as process.hrtime, in µs
const profDir = process.execArgv.find(a => a.startsWith('--cpu-prof-dir='))?.slice('--cpu-prof-dir='.length)
if (profDir != null) {
  mkdirSync(resolve(profDir), { recursive: true })
  writeFileSync(windowFile(resolve(profDir), process.pid), JSON.stringify({ start, end, label }))
} else if (process.execArgv.some(a => a.startsWith('--cpu-prof'))) {
  progress('note: without --cpu-prof-dir=<dir> the measured-run window is not recorded; --summarise will count the whole process')
}
process.exit(0)
