/**
 * A mutation fuzzer for the muxer (fault checklist row 46, docs/fault-checklist.md): random splices and bit flips of
 * recorded valid traffic reach states that purely random bytes do not. Each input is fed, in random chunks, into a RawPeer-driven muxer of either role: random
 * bytes, random frame sequences, and windows of the recorded Go session
 * (test/fixtures/vectors/session-trace.json) mutated by bit flips, byte writes, splices, deletions,
 * duplications and truncation. For every input, nothing throws out of the muxer (no uncaught
 * exception, no unhandled rejection); a session that ended did so with an error named in
 * the error table (FrameError included) and handed exactly one GOAWAY, with the code that table gives,
 * to its connection; a session that is still open is consistent (no GOAWAY, every complete frame
 * decoded, the stream map and the stream limits agree with `muxer.streams`, only open streams in
 * the map); and after an abort every counter is back at zero and no timer of the muxer is left.
 *
 * Long runs (compile first, see test/README.md):
 * `node --require ./test/polyfill.mjs dist/test/hostile/fuzz.js --runs 1000000 [--seed 1]`
 *
 * `test/hostile/fuzz.spec.ts` runs a few hundred inputs of the same harness in CI.
 */

import { errorTable, goawayCode } from '../../src/errors.ts'
import { FrameType } from '../../src/index.ts'
import { encodeDataHeader, encodeGoaway, encodeRst, encodeSyn, encodeWndinc } from '../../src/protocol/index.ts'
import { fromHex, toHex } from '../helpers/bytes.ts'
import { RawPeer } from '../helpers/raw-peer.ts'
import { loadVectors } from '../protocol/helpers.ts'
import { TimerTracker, concatBytes, counters, header, tick } from './harness.ts'
import type { MuxadoStream } from '../../src/index.ts'
import type { MuxerRole } from '../helpers/raw-peer.ts'
import type { SessionTrace } from '../protocol/helpers.ts'

// ---- a small seeded PRNG (xorshift128+ would do; mulberry32 is enough and fast)

export class Random {
  private state: number

  constructor (seed: number) {
    this.state = (seed >>> 0) ^ 0x9e3779b9
  }

  /** uniform in [0, 1) */
  next (): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** integer in [0, n) */
  int (n: number): number {
    return Math.floor(this.next() * n)
  }

  chance (p: number): boolean {
    return this.next() < p
  }

  pick<T> (items: readonly T[]): T {
    return items[this.int(items.length)]
  }

  bytes (n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) { out[i] = this.int(256) }
    return out
  }
}

// ---- inputs

export interface FuzzInput {
  kind: 'random' | 'frames' | 'trace'
  role: MuxerRole
  bytes: Uint8Array
  /** chunk boundaries: the bytes are delivered as consecutive slices ending at these offsets */
  cuts: number[]
  /** what the app does with each inbound stream */
  app: 'read' | 'echo' | 'ignore' | 'reset' | 'pause'
  /** maxUselessFrames and maxStreamResets: small budgets let short inputs reach them */
  budget: number
}

/** The recorded Go session, one entry per frame, per direction, with DATA payloads capped */
let traceFrames: Record<'c2s' | 's2c', Uint8Array[]> | undefined

function trace (): Record<'c2s' | 's2c', Uint8Array[]> {
  if (traceFrames != null) { return traceFrames }
  const recorded = loadVectors<SessionTrace>('session-trace.json')
  const frames = { c2s: [] as Uint8Array[], s2c: [] as Uint8Array[] }
  for (const dir of ['c2s', 's2c'] as const) {
    const stream = concatBytes(recorded.chunks.filter(c => c.dir === dir).map(c => fromHex(c.hex)))
    for (const f of recorded.frames[dir].list) {
      let frame = stream.subarray(f.offset, f.offset + f.wireBytes)
      if (f.type === FrameType.DATA && frame.byteLength > 8 + 64) {
        // keep inputs small: a long DATA frame becomes a 64-byte one with the same header fields
        frame = concatBytes([encodeDataHeader(f.streamId, 64, (f.flags & 1) === 1), frame.subarray(8, 8 + 64)])
      }
      frames[dir].push(frame.slice())
    }
  }
  traceFrames = frames
  return frames
}

/** What a frame generator knows of the session it writes for */
interface Session {
  /** the next SYN id the peer may use (odd for a server muxer, even for a client) */
  nextRemote: number
  /** ids streams may be using: the muxer's own and the ones the peer opened */
  ids: number[]
}

/** A random frame that is usually well formed and often plausible for the session so far */
function randomFrame (rand: Random, session: Session): Uint8Array {
  const id = rand.chance(0.85) && session.ids.length > 0 ? rand.pick(session.ids) : rand.int(12)
  switch (rand.int(8)) {
    case 0:
    case 1: {
      // mostly the next legal id; sometimes a skip, a repeat or anything
      const next = rand.chance(0.85) ? session.nextRemote + 2 * rand.int(2) : rand.int(14)
      if (next >= session.nextRemote) { session.nextRemote = next + 2 }
      session.ids.push(next)
      if (rand.chance(0.1)) { return encodeSyn(next, 0xfffffeff, 0x7fffffff).slice() }
      return encodeSyn(next, rand.chance(0.2) ? rand.int(100) : 0).slice()
    }
    case 2:
    case 3: {
      const n = rand.chance(0.2) ? 0 : rand.int(48)
      return concatBytes([encodeDataHeader(id, n, rand.chance(0.2)), rand.bytes(n)])
    }
    case 4:
      return encodeWndinc(id, rand.pick([0, 1, 4, 65536, 0x7fffffff, rand.int(100000)])).slice()
    case 5:
      return encodeRst(id, rand.int(8)).slice()
    case 6:
      return encodeGoaway(rand.int(12), rand.int(8)).slice()
    default: {
      // a header with arbitrary fields (any type, flags, reserved bits, length up to 32)
      const length = rand.int(33)
      return concatBytes([header(rand.int(256), rand.int(256), rand.chance(0.5) ? id : rand.int(0x100000000), rand.chance(0.7) ? length : rand.int(0x10000)), rand.bytes(length)])
    }
  }
}

/** The streams a muxer of this role opens before the input arrives (see `runInput`) */
function localIds (role: MuxerRole): number[] {
  return role === 'client' ? [3, 5, 7, 9] : [2]
}

function mutate (rand: Random, bytes: Uint8Array, donors: Uint8Array[]): Uint8Array {
  let out = bytes
  const rounds = 1 + rand.int(4)
  for (let r = 0; r < rounds; r++) {
    if (out.byteLength === 0) { out = rand.bytes(1 + rand.int(8)) }
    const at = rand.int(out.byteLength)
    switch (rand.int(7)) {
      case 0: {
        out = out.slice()
        out[at] ^= 1 << rand.int(8)
        break
      }
      case 1: {
        out = out.slice()
        out[at] = rand.pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 0x3f, 0x7f, 0x80, 0xff, rand.int(256)])
        break
      }
      case 2: {
        // splice in part of another frame sequence
        const donor = rand.pick(donors)
        const from = rand.int(donor.byteLength)
        out = concatBytes([out.subarray(0, at), donor.subarray(from, from + 1 + rand.int(24)), out.subarray(at)])
        break
      }
      case 3: {
        out = concatBytes([out.subarray(0, at), out.subarray(Math.min(out.byteLength, at + 1 + rand.int(8)))])
        break
      }
      case 4: {
        // duplicate a run (often a whole frame: the same SYN twice, DATA after FIN, ...)
        const len = rand.pick([8, 12, 16, 1 + rand.int(20)])
        out = concatBytes([out.subarray(0, at + len), out.subarray(at, at + len), out.subarray(at + len)])
        break
      }
      case 5: {
        out = out.subarray(0, at)
        break
      }
      default: {
        out = concatBytes([out.subarray(0, at), rand.bytes(1 + rand.int(8)), out.subarray(at)])
      }
    }
  }
  return out
}

export function generate (rand: Random): FuzzInput {
  const role: MuxerRole = rand.chance(0.5) ? 'client' : 'server'
  const app = rand.pick(['read', 'read', 'echo', 'ignore', 'reset', 'pause'] as const)
  let kind: FuzzInput['kind']
  let bytes: Uint8Array
  const roll = rand.next()
  if (roll < 0.2) {
    kind = 'random'
    bytes = rand.bytes(1 + rand.int(96))
    if (rand.chance(0.5)) {
      // random bytes behind a plausible first header, to get past the first check more often
      bytes = concatBytes([randomFrame(rand, { nextRemote: role === 'client' ? 2 : 3, ids: localIds(role) }), bytes])
    }
  } else if (roll < 0.55) {
    kind = 'frames'
    const session: Session = { nextRemote: role === 'client' ? 2 : 3, ids: localIds(role) }
    const frames = Array.from({ length: 1 + rand.int(12) }, () => randomFrame(rand, session))
    bytes = concatBytes(frames)
    if (rand.chance(0.5)) { bytes = mutate(rand, bytes, frames) }
  } else {
    kind = 'trace'
    const frames = trace()
    // usually the direction that matches the role (what a Go peer of the other role sends), sometimes the other one
    const [matching, other] = role === 'server' ? ['c2s', 's2c'] as const : ['s2c', 'c2s'] as const
    const dir = rand.chance(0.8) ? matching : other
    const list = frames[dir]
    const start = rand.chance(0.3) ? 0 : rand.int(list.length)
    const count = 1 + rand.int(10)
    bytes = concatBytes(list.slice(start, start + count))
    if (rand.chance(0.9)) { bytes = mutate(rand, bytes, list) }
  }
  const cuts: number[] = []
  if (bytes.byteLength > 1 && rand.chance(0.6)) {
    for (let i = rand.int(4); i >= 0; i--) { cuts.push(1 + rand.int(bytes.byteLength - 1)) }
    cuts.sort((a, b) => a - b)
  }
  cuts.push(bytes.byteLength)
  return { kind, role, bytes, cuts, app, budget: rand.chance(0.3) ? 2 + rand.int(4) : 64 }
}

// ---- running one input

export interface FuzzOutcome {
  /** 'closed' with a GOAWAY, or still 'open' and consistent */
  end: 'closed' | 'open'
  /** the error that ended the session */
  error?: string
  /** what went wrong; empty when the input passed */
  problems: string[]
}

const TABLE = new Set(errorTable().map(rule => rule.error.name))

function onInboundStream (stream: MuxadoStream, app: FuzzInput['app']): void {
  if (app === 'ignore') { return }
  if (app === 'reset') {
    stream.abort(new Error('app reset'))
    return
  }
  stream.addEventListener('message', (evt) => {
    if (app === 'echo' && stream.writeStatus === 'writable') { stream.send(evt.data) }
  })
  stream.addEventListener('remoteCloseWrite', () => {
    if (stream.writeStatus === 'writable') { stream.close().catch(() => {}) }
  })
  if (app === 'pause') { stream.pause() }
}

/** A session that ended: a typed error from the table, and exactly one GOAWAY with its code */
function checkClosed (peer: RawPeer, problems: string[]): FuzzOutcome {
  const goaways = peer.handedFrames.filter(f => f.type === FrameType.GOAWAY)
  const err = peer.sessionError
  if (err == null) {
    problems.push(`session is ${peer.muxer.status} without an abort`)
  } else {
    if (!TABLE.has(err.name)) { problems.push(`session ended with an error outside the error table: ${err.name}: ${err.message}`) }
    if (goaways.length !== 1) {
      problems.push(`${goaways.length} GOAWAYs after ${err.name}`)
    } else if (goaways[0].errorCode !== goawayCode(err)) {
      problems.push(`GOAWAY code ${goaways[0].errorCode} for ${err.name}, table says ${goawayCode(err)}`)
    }
  }
  return { end: 'closed', error: err?.name, problems }
}

/** A session still open: no GOAWAY, nothing left undecoded, its bookkeeping in agreement */
function checkOpen (peer: RawPeer, problems: string[]): FuzzOutcome {
  const internal = peer.muxer as any
  if (peer.handedFrames.some(f => f.type === FrameType.GOAWAY)) { problems.push('GOAWAY sent by an open session') }
  if (peer.abortErrors.length > 0) { problems.push(`open after abort(${peer.abortErrors[0].name})`) }
  // every complete frame has been decoded: decoding again finds nothing
  const leftover = internal.decoder.decode({ onSyn () {}, onData () {}, onRst () {}, onWndinc () {}, onGoaway () {} })
  if (leftover !== 0) { problems.push(`${leftover} complete frame(s) left undecoded`) }
  const byId: Map<number, MuxadoStream> = internal.streamsById
  const visible = new Set(peer.muxer.streams)
  for (const stream of visible) {
    if (byId.get(stream.streamId) !== stream) { problems.push(`stream ${stream.streamId} visible but not in the stream map`) }
  }
  for (const stream of byId.values()) {
    if (stream.status !== 'open') { problems.push(`stream ${stream.streamId} is ${stream.status} but still in the stream map`) }
  }
  if (internal.inboundStreams + internal.outboundStreams !== visible.size) {
    problems.push(`stream limits count ${internal.inboundStreams} in + ${internal.outboundStreams} out for ${visible.size} streams`)
  }
  return { end: 'open', problems }
}

/**
 * Feed one input into a fresh muxer and check it. `timers` must be installed: timers the muxer
 * leaves behind after its abort count as a problem.
 */
export async function runInput (input: FuzzInput, timers: TimerTracker): Promise<FuzzOutcome> {
  const problems: string[] = []
  const peer = new RawPeer(input.role, {
    maxUselessFrames: input.budget,
    maxStreamResets: input.budget,
    maxStreamResetsPerSecond: input.budget,
    maxInboundStreams: 8,
    maxWriteBufferLength: 64 * 1024
  })
  const muxer = peer.muxer
  muxer.addEventListener('stream', (evt) => { onInboundStream(evt.detail, input.app) })
  // streams of our own, so that frames for our ids (and the Go server's frames in the trace, for
  // streams 5, 7 and 9) have something to hit
  for (const id of localIds(input.role)) {
    const local = await muxer.createStream()
    if (local.streamId !== id) { problems.push(`local stream got id ${local.streamId}, expected ${id}`) }
    local.send(new Uint8Array(16))
  }
  let from = 0
  for (const cut of input.cuts) {
    muxer.onData(input.bytes.subarray(from, cut))
    from = cut
    await tick()
  }
  for (let i = 0; i < 6; i++) { await tick() }

  const outcome = muxer.status === 'open' ? checkOpen(peer, problems) : checkClosed(peer, problems)
  if (peer.recordError != null || peer.handedError != null) { problems.push(`the muxer sent bytes that do not decode: ${(peer.recordError ?? peer.handedError)?.message}`) }

  // end it and check that nothing is left behind
  if (muxer.status !== 'closed') { muxer.abort(new Error('fuzz input done')) }
  for (let i = 0; i < 3; i++) { await tick() }
  const c = counters(muxer)
  // hidden heartbeat streams stay in the map after the session ends: reported separately
  // (hostile/checklist-framing "rows 2 and 4, cleanup"), not counted here
  if (c.streams !== 0 || c.streamsById - c.hidden !== 0 || c.inbound !== 0 || c.outbound !== 0 || c.early !== 0) {
    problems.push(`counters after abort: ${JSON.stringify(c)}`)
  }
  const muxerTimers = timers.pendingSites.filter(site => site.includes('/src/') && !site.includes('node_modules'))
  if (muxerTimers.length > 0) { problems.push(`timers left by the muxer: ${muxerTimers.join('; ')}`) }
  return outcome
}

export function describeInput (input: FuzzInput): string {
  return `${input.role} ${input.kind} app=${input.app} budget=${input.budget} cuts=${input.cuts.join(',')} hex=${toHex(input.bytes)}`
}

// ---- the command line

function print (line: string): void {
  process.stdout.write(`${line}\n`)
}

interface Stats {
  inputs: number
  closed: number
  open: number
  failures: number
  errors: Map<string, number>
  problems: Map<string, { count: number, example: string }>
}

function parseArgs (argv: string[]): { runs: number, seed: number, every: number } {
  const get = (name: string, fallback: number): number => {
    const at = argv.indexOf(`--${name}`)
    if (at === -1) { return fallback }
    const value = Number(argv[at + 1])
    if (!Number.isSafeInteger(value) || value < 0) { throw new Error(`--${name} needs a non-negative integer`) }
    return value
  }
  return { runs: get('runs', 10_000), seed: get('seed', 1), every: get('progress', 50_000) }
}

async function main (): Promise<void> {
  const { runs, seed, every } = parseArgs(process.argv.slice(2))
  const rand = new Random(seed)
  const timers = new TimerTracker()
  const stats: Stats = { inputs: 0, closed: 0, open: 0, failures: 0, errors: new Map(), problems: new Map() }
  const escaped: string[] = []
  process.on('uncaughtException', (err) => { escaped.push(`uncaught exception: ${err?.stack ?? String(err)}`) })
  process.on('unhandledRejection', (err: any) => { escaped.push(`unhandled rejection: ${err?.stack ?? String(err)}`) })
  const started = Date.now()
  print(`fuzz: ${runs} inputs, seed ${seed}`)

  for (let i = 0; i < runs; i++) {
    const input = generate(rand)
    timers.install()
    let outcome: FuzzOutcome
    try {
      outcome = await runInput(input, timers)
    } catch (err: any) {
      outcome = { end: 'closed', problems: [`the harness threw: ${err?.stack ?? String(err)}`] }
    }
    timers.restore()
    if (escaped.length > 0) { outcome.problems.push(...escaped.splice(0)) }
    stats.inputs++
    if (outcome.end === 'closed') { stats.closed++ } else { stats.open++ }
    if (outcome.error != null) { stats.errors.set(outcome.error, (stats.errors.get(outcome.error) ?? 0) + 1) }
    if (outcome.problems.length > 0) {
      stats.failures++
      for (const problem of outcome.problems) {
        // group by the problem's shape, not its numbers
        const key = problem.replace(/\d+/g, 'N').slice(0, 160)
        const entry = stats.problems.get(key)
        if (entry == null) {
          stats.problems.set(key, { count: 1, example: `${problem}\n      input: ${describeInput(input)}` })
          print(`FAIL #${i}: ${problem}\n      input: ${describeInput(input)}`)
        } else {
          entry.count++
        }
      }
    }
    if (every > 0 && stats.inputs % every === 0) {
      const seconds = (Date.now() - started) / 1000
      print(`fuzz: ${stats.inputs}/${runs} inputs, ${(stats.inputs / seconds).toFixed(0)}/s, closed ${stats.closed}, open ${stats.open}, failures ${stats.failures}`)
    }
  }

  const seconds = (Date.now() - started) / 1000
  const errors = [...stats.errors.entries()].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} ${n}`).join(', ')
  print(`fuzz: session errors: ${errors}`)
  for (const [key, { count }] of stats.problems) { print(`fuzz: problem x${count}: ${key}`) }
  print(`fuzz: ${stats.inputs} inputs in ${seconds.toFixed(1)} s (seed ${seed}): ${stats.failures} failures; closed with GOAWAY ${stats.closed}, open and consistent ${stats.open}`)
  process.exitCode = stats.failures === 0 ? 0 : 1
}

// run as a program, not when fuzz.spec.ts imports it (nor in a browser, where argv is empty); no
// node:url here, so that the spec bundles for the browser targets
if (process.argv[1] != null && decodeURIComponent(new URL(import.meta.url).pathname) === process.argv[1]) {
  main().catch((err) => {
    process.stderr.write(`${err?.stack ?? String(err)}\n`)
    process.exitCode = 2
  })
}
