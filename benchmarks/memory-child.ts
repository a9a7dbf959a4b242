/**
 * One cold run of the many-streams transfer in a fresh process, for the memory scenario: peak
 * RSS is a process-lifetime high-water mark, so every run needs its own process. Prints one JSON
 * line. Usage: node --expose-gc dist/benchmarks/memory-child.js <muxado|yamux|mplex|none> <count> <size>
 */
import '../test/polyfill.mjs'
import { readFileSync } from 'node:fs'
import { parkedBytes } from './io.ts'
import { muxerPair } from './muxers.ts'
import { LoopbackServer, closeConnPair, tcpPair } from './pairs.ts'
import { transferMany } from './scenarios/streams.ts'
import type { MuxerName } from './muxers.ts'

const MiB = 1024 * 1024

/**
 * This process's own peak RSS in bytes: Linux's VmHWM. Not `resourceUsage().maxRSS`, which a
 * spawned child starts at its parent's RSS at the fork (Linux keeps the high-water mark across
 * exec): a benchmark parent of 96 MiB made the idle child read 96 MiB instead of 61.
 */
function peakRss (): number {
  try {
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]
    if (kib != null) { return Number(kib) * 1024 }
  } catch {}
  return process.resourceUsage().maxRSS * 1024
}
const [variant, countArg, sizeArg] = process.argv.slice(2)
const count = Number(countArg)
const size = Number(sizeArg)

const server = await LoopbackServer.start()
const conns = await tcpPair(server)
// 'none' keeps an idle muxer pair: node, the modules and the connection, but no transfer
const muxers = muxerPair(variant === 'none' ? 'muxado' : variant as MuxerName, conns)

;(globalThis as any).gc?.()
const base = process.memoryUsage()
let heapPeak = 0
let arrayBuffersPeak = 0
let parkedPeak = 0
let messages = 0
// sampling every message would dominate the run; every 16th still catches the peak's shape
const sample = (): void => {
  if (++messages % 16 !== 0) { return }
  const m = process.memoryUsage()
  heapPeak = Math.max(heapPeak, m.heapUsed - base.heapUsed)
  arrayBuffersPeak = Math.max(arrayBuffersPeak, m.arrayBuffers - base.arrayBuffers)
  parkedPeak = Math.max(parkedPeak, parkedBytes([muxers.client, muxers.server], [conns.client, conns.server], [conns.sockets.client, conns.sockets.server]))
}

const t0 = performance.now()
if (variant !== 'none') { await transferMany(muxers, { count, size, fresh: true, onMessage: sample }) }
const ms = variant !== 'none' ? performance.now() - t0 : 0
const maxRss = peakRss()

process.stdout.write(JSON.stringify({
  rss: maxRss / MiB,
  rssBefore: base.rss / MiB,
  rssOver: (maxRss - base.rss) / MiB,
  heap: heapPeak / MiB,
  arrayBuffers: arrayBuffersPeak / MiB,
  parked: parkedPeak / MiB,
  ms
}) + '\n')
await Promise.race([Promise.all([muxers.client.close(), muxers.server.close()]), new Promise(resolve => setTimeout(resolve, 1000))])
await closeConnPair(conns)
process.exit(0)
