import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { ErrorCode, FrameType } from '../../src/index.ts'
import { encodeDataHeader, encodeRst, encodeSyn, encodeWndinc } from '../../src/protocol/index.ts'
import { fuzzRuns, propertyRuns } from '../helpers/fuzz-settings.ts'
import { muxerPair } from '../helpers/muxer-pair.ts'
import { RawPeer } from '../helpers/raw-peer.ts'
import { TimerTracker, concatBytes, expectNoTimers, counters, dataFrames, onEscapedErrors, sleep, tick, until, within, ZERO } from './harness.ts'
import type { MuxadoMuxer, MuxadoStream } from '../../src/index.ts'

/**
 * Property tests against a live muxer (fault checklist row 47 and its property ideas (c), (d), (e), docs/fault-checklist.md).
 *
 * (c) `fc.commands` drive a RawPeer-backed muxer with app actions (open, write, pause, resume,
 * close, reset) and peer frames (SYN, DATA within or over the window, WNDINC, RST, FIN), and
 * after every command compare it with a small reference model of each stream: bytes written and
 * sent (send window), bytes the peer sent and the app received or has buffered (receive window),
 * FINs, RSTs and whether the stream is still open.
 *
 * (d) `fc.scheduler()` permutes close / write / reset / GOAWAY (session close) / abort on a pair of
 * muxers; nothing may throw an unexpected error or hang, and everything ends at zero.
 *
 * (e) any command sequence from (c), ended by an abort, leaves every counter at zero.
 *
 * Fixed seeds; `MUXADO_FUZZ_RUNS=n` and `MUXADO_FUZZ_SEED=n` override run counts and the seed.
 */

function runs (defaultRuns: number): fc.Parameters<unknown> {
  // a run that hangs fails (and is shrunk) instead of stalling the whole property
  return { ...propertyRuns(defaultRuns, 4242), timeout: 10_000 }
}

const INITIAL_WINDOW = 65536
const MAX_UINT31 = 0x7fffffff
const MAX_STREAM_WINDOW = 256 * 1024
const MAX_WRITE_BUFFER = 150_000

// ---- the reference model

type Ended = 'closed' | 'reset-local' | 'reset-remote' | 'flow-control' | 'data-after-fin' | 'write-buffer'

interface StreamModel {
  id: number
  /** opened by the muxer (app), else by the peer */
  local: boolean
  /** bytes the app handed to send() */
  written: number
  /** what the peer allows us to send: 65536 + every WNDINC it sent */
  credit: number
  /** DATA bytes we put on the wire: min(written, credit) while the stream lives */
  sent: number
  finRequested: boolean
  finSent: boolean
  /** DATA bytes the peer sent us */
  peerSent: number
  peerFin: boolean
  paused: boolean
  /** bytes handed to the app's 'message' listener */
  delivered: number
  /** bytes received but held while paused */
  buffered: number
  ended?: Ended
  /** RST codes we must have sent for this id, in order */
  rsts: number[]
  /** the one RST StreamClosed for DATA on this id after it ended */
  lateRst: boolean
}

interface Model {
  streams: StreamModel[]
  nextLocalId: number
  nextRemoteId: number
}

interface Real {
  peer: RawPeer
  streams: Map<number, { stream: MuxadoStream, delivered(): number }>
  /** rejections of close() calls that ended early because the stream was reset: expected */
  closeFailures: number
}

function newStream (id: number, local: boolean): StreamModel {
  return { id, local, written: 0, credit: INITIAL_WINDOW, sent: 0, finRequested: false, finSent: false, peerSent: 0, peerFin: false, paused: false, delivered: 0, buffered: 0, rsts: [], lateRst: false }
}

/** Data goes out up to the window; FIN follows the last byte; two FINs close the stream */
function flush (s: StreamModel): void {
  if (s.ended != null) { return }
  s.sent = Math.min(s.written, s.credit)
  if (s.finRequested && s.sent === s.written) { s.finSent = true }
  if (s.finSent && s.peerFin) { s.ended = 'closed' }
}

/** We reset the stream: an RST with `code` goes out, unread data is dropped */
function localReset (s: StreamModel, ended: Ended, code: number): void {
  s.ended = ended
  s.rsts.push(code)
  s.buffered = 0
  s.paused = false
}

function live (m: Model): StreamModel[] {
  return m.streams.filter(s => s.ended == null)
}

function pick<T> (items: T[], index: number): T {
  return items[index % items.length]
}

/** What the muxer allows the peer to send on a stream, from the WNDINCs it put on the wire */
function recvCredit (r: Real, id: number): number {
  return INITIAL_WINDOW + r.peer.framesOf(FrameType.WNDINC, id).reduce((sum, f) => sum + (f.increment ?? 0), 0)
}

/** Let both sides finish: a few turns, and while the connection pushes back, until it drains */
async function settle (r?: Real): Promise<void> {
  for (let i = 0; i < 4; i++) { await tick() }
  for (let waited = 0; r?.peer.muxerConnection.writableNeedsDrain === true && waited < 2000; waited++) {
    await sleep(1)
    for (let i = 0; i < 4; i++) { await tick() }
  }
}

// ---- comparing model and muxer

function checkAgainstModel (m: Model, r: Real): void {
  const { peer } = r
  expect(peer.muxer.status, 'session').to.equal('open')
  expect(peer.framesOf(FrameType.GOAWAY), 'GOAWAY').to.deep.equal([])
  expect(peer.recordError, 'the muxer\'s output decodes').to.equal(undefined)
  const byId: Map<number, MuxadoStream> = (peer.muxer as any).streamsById
  const open = live(m)
  expect([...byId.keys()].sort((a, b) => a - b), 'open stream ids').to.deep.equal(open.map(s => s.id).sort((a, b) => a - b))
  expect(counters(peer.muxer)).to.include({ streams: open.length, streamsById: open.length })

  for (const s of m.streams) {
    const real = r.streams.get(s.id)
    if (real == null) { throw new Error(`no real stream ${s.id}`) }
    const { stream } = real
    const label = `stream ${s.id}`
    const data = peer.framesOf(FrameType.DATA, s.id)
    expect(data.reduce((sum, f) => sum + (f.payload?.byteLength ?? 0), 0), `${label}: DATA bytes sent`).to.equal(s.sent)
    expect(data.filter(f => (f.flags & 1) !== 0).length, `${label}: FINs sent`).to.equal(s.finSent ? 1 : 0)
    expect(peer.framesOf(FrameType.RST, s.id).map(f => f.errorCode), `${label}: RSTs sent`).to.deep.equal(s.rsts)
    expect(peer.framesOf(FrameType.SYN, s.id).length, `${label}: SYNs sent`).to.equal(s.local ? 1 : 0)
    expect(real.delivered(), `${label}: bytes delivered`).to.equal(s.delivered)
    if (s.ended !== 'reset-local' && s.ended !== 'flow-control' && s.ended !== 'data-after-fin' && s.ended !== 'write-buffer') {
      expect(stream.readBufferLength, `${label}: bytes buffered`).to.equal(s.buffered)
    }
    if (s.ended == null) {
      expect(stream.status, `${label}: status`).to.equal('open')
      expect(stream.writeBufferLength, `${label}: write buffer`).to.equal(s.written - s.sent)
    } else {
      expect(stream.status, `${label}: status`).to.not.equal('open')
    }
    // receive side: grants only for consumed data (plus bounded window growth), and a reader that
    // keeps up is never left with less than half the initial window
    const credit = recvCredit(r, s.id)
    expect(credit - INITIAL_WINDOW, `${label}: window granted`).to.be.at.most(s.delivered + MAX_STREAM_WINDOW - INITIAL_WINDOW)
    if (s.ended == null && !s.paused && s.buffered === 0 && !s.peerFin) {
      expect(credit - s.peerSent, `${label}: window left for the peer`).to.be.greaterThan(INITIAL_WINDOW / 2)
    }
  }
}

function track (r: Real, stream: MuxadoStream): void {
  let delivered = 0
  stream.addEventListener('message', (evt) => { delivered += evt.data.byteLength })
  r.streams.set(stream.streamId, { stream, delivered: () => delivered })
}

// ---- commands

type Cmd = fc.AsyncCommand<Model, Real>

/** How often each command ran (checked after the property, so it cannot pass vacuously) */
const executed = new Map<string, number>()

function count (cmd: Cmd): void {
  executed.set(cmd.constructor.name, (executed.get(cmd.constructor.name) ?? 0) + 1)
}

class AppOpen implements Cmd {
  check (m: Model): boolean { return live(m).length < 12 }
  async run (m: Model, r: Real): Promise<void> {
    count(this)
    const stream = await r.peer.muxer.createStream()
    expect(stream.streamId).to.equal(m.nextLocalId)
    track(r, stream)
    m.streams.push(newStream(m.nextLocalId, true))
    m.nextLocalId += 2
    await settle(r)
    checkAgainstModel(m, r)
  }

  toString (): string { return 'AppOpen' }
}

class PeerOpen implements Cmd {
  check (m: Model): boolean { return live(m).length < 12 }
  async run (m: Model, r: Real): Promise<void> {
    count(this)
    const id = m.nextRemoteId
    r.peer.send(encodeSyn(id))
    await settle(r)
    expect(r.streams.has(id), `stream ${id} announced`).to.equal(true)
    m.streams.push(newStream(id, false))
    m.nextRemoteId += 2
    checkAgainstModel(m, r)
  }

  toString (): string { return 'PeerOpen' }
}

/** The app writes `bytes`, or with `toWindow` exactly what the peer's window still takes */
class AppWrite implements Cmd {
  constructor (readonly index: number, readonly bytes: number, readonly toWindow: boolean) {}
  check (m: Model): boolean { return live(m).some(s => !s.finRequested) }
  async run (m: Model, r: Real): Promise<void> {
    count(this)
    const s = pick(live(m).filter(s => !s.finRequested), this.index)
    // "to the window" only where the window is small: a 2^31-byte write is not a useful test
    const toWindow = s.credit - s.written
    const bytes = this.toWindow && toWindow > 0 && toWindow <= 200_000 ? toWindow : this.bytes
    r.streams.get(s.id)?.stream.send(new Uint8Array(bytes))
    s.written += bytes
    flush(s)
    if (s.written - s.sent > MAX_WRITE_BUFFER) { localReset(s, 'write-buffer', ErrorCode.Cancel) }
    await settle(r)
    checkAgainstModel(m, r)
  }

  toString (): string { return `AppWrite(#${this.index}, ${this.toWindow ? 'to the window' : this.bytes})` }
}

class AppPause implements Cmd {
  constructor (readonly index: number) {}
  check (m: Model): boolean { return m.streams.some(s => s.ended == null && !s.paused) }
  async run (m: Model, r: Real): Promise<void> {
    count(this)
    const s = pick(m.streams.filter(s => s.ended == null && !s.paused), this.index)
    const stream = r.streams.get(s.id)?.stream as MuxadoStream
    // libp2p's own readable-end bookkeeping decides whether pause() is allowed; not modelled
    if (stream.readStatus === 'readable') {
      stream.pause()
      s.paused = true
    }
    await settle(r)
    checkAgainstModel(m, r)
  }

  toString (): string { return `AppPause(#${this.index})` }
}

class AppResume implements Cmd {
  constructor (readonly index: number) {}
  check (m: Model): boolean { return m.streams.some(s => s.paused) }
  async run (m: Model, r: Real): Promise<void> {
    count(this)
    const s = pick(m.streams.filter(s => s.paused), this.index)
    const stream = r.streams.get(s.id)?.stream as MuxadoStream
    expect(stream.readStatus, `stream ${s.id} read status`).to.equal('paused')
    stream.resume()
    s.paused = false
    s.delivered += s.buffered
    s.buffered = 0
    await settle(r)
    checkAgainstModel(m, r)
  }

  toString (): string { return `AppResume(#${this.index})` }
}

class AppCloseWrite implements Cmd {
  constructor (readonly index: number) {}
  check (m: Model): boolean { return live(m).some(s => !s.finRequested) }
  async run (m: Model, r: Real): Promise<void> {
    count(this)
    const s = pick(live(m).filter(s => !s.finRequested), this.index)
    // close() waits for queued data; it fails (expectedly) if the stream is reset meanwhile
    r.streams.get(s.id)?.stream.close().catch(() => { r.closeFailures++ })
    s.finRequested = true
    flush(s)
    await settle(r)
    checkAgainstModel(m, r)
  }

  toString (): string { return `AppCloseWrite(#${this.index})` }
}

class AppReset implements Cmd {
  constructor (readonly index: number) {}
  check (m: Model): boolean { return live(m).length > 0 }
  async run (m: Model, r: Real): Promise<void> {
    count(this)
    const s = pick(live(m), this.index)
    r.streams.get(s.id)?.stream.abort(new Error('app reset'))
    localReset(s, 'reset-local', ErrorCode.Cancel)
    await settle(r)
    checkAgainstModel(m, r)
  }

  toString (): string { return `AppReset(#${this.index})` }
}

type DataKind = 'fit' | 'fill' | 'over'

/**
 * The peer sends DATA. `fit`: up to `bytes` within the window it knows of, as one chunk (grants
 * in flight only widen the window, so all of it must be accepted). `fill`: frame by frame until
 * the window is used up. `over`: one frame `bytes` past the window, when one frame can do it
 * (else a frame that fits). On a stream that is gone (`anyStream`), `bytes` of late DATA.
 */
class PeerData implements Cmd {
  constructor (readonly index: number, readonly kind: DataKind, readonly bytes: number, readonly anyStream: boolean) {}
  check (m: Model): boolean { return m.streams.length > 0 }
  async run (m: Model, r: Real): Promise<void> {
    count(this)
    const candidates = this.anyStream ? m.streams : live(m)
    if (candidates.length === 0) { return }
    const s = pick(candidates, this.index)
    if (s.ended != null) {
      r.peer.send(concatBytes(dataFrames(s.id, this.bytes)))
      // a stream that is gone: one RST StreamClosed per id, the data is dropped
      if (!s.lateRst) {
        s.lateRst = true
        s.rsts.push(ErrorCode.StreamClosed)
      }
    } else if (s.peerFin) {
      r.peer.send(concatBytes(dataFrames(s.id, Math.min(this.bytes, 100))))
      localReset(s, 'data-after-fin', ErrorCode.StreamClosed)
    } else if (this.kind === 'fill') {
      for (let frames = 0; frames < 64 && s.ended == null; frames++) {
        const allowed = recvCredit(r, s.id) - s.peerSent
        if (allowed <= 0) { break }
        this.accept(s, r, Math.min(allowed, 16383))
        await settle(r)
      }
    } else {
      const allowed = recvCredit(r, s.id) - s.peerSent
      const over = 1 + this.bytes % 1000
      if (this.kind === 'over' && allowed + over <= 16383) {
        r.peer.send(dataFrames(s.id, allowed + over)[0])
        localReset(s, 'flow-control', ErrorCode.FlowControlError)
      } else {
        const n = Math.min(this.kind === 'over' ? 16383 : this.bytes, allowed)
        if (n > 0) { this.accept(s, r, n) }
      }
    }
    await settle(r)
    checkAgainstModel(m, r)
  }

  private accept (s: StreamModel, r: Real, n: number): void {
    r.peer.send(concatBytes(dataFrames(s.id, n)))
    s.peerSent += n
    if (s.paused) { s.buffered += n } else { s.delivered += n }
  }

  toString (): string { return `PeerData(#${this.index}, ${this.kind}, ${this.bytes}${this.anyStream ? ', any' : ''})` }
}

class PeerWndinc implements Cmd {
  constructor (readonly index: number, readonly increment: number, readonly anyStream: boolean) {}
  check (m: Model): boolean { return m.streams.length > 0 }
  async run (m: Model, r: Real): Promise<void> {
    count(this)
    const candidates = this.anyStream ? m.streams : live(m)
    if (candidates.length === 0) { return }
    const s = pick(candidates, this.index)
    r.peer.send(encodeWndinc(s.id, this.increment))
    if (s.ended == null && this.increment > 0) {
      if (s.credit - s.sent + this.increment > MAX_UINT31) {
        localReset(s, 'flow-control', ErrorCode.FlowControlError)
      } else {
        s.credit += this.increment
        flush(s)
      }
    }
    await settle(r)
    checkAgainstModel(m, r)
  }

  toString (): string { return `PeerWndinc(#${this.index}, ${this.increment}${this.anyStream ? ', any' : ''})` }
}

class PeerRst implements Cmd {
  constructor (readonly index: number, readonly code: number, readonly anyStream: boolean) {}
  check (m: Model): boolean { return m.streams.length > 0 }
  async run (m: Model, r: Real): Promise<void> {
    count(this)
    const candidates = this.anyStream ? m.streams : live(m)
    if (candidates.length === 0) { return }
    const s = pick(candidates, this.index)
    r.peer.send(encodeRst(s.id, this.code))
    if (s.ended == null) {
      // RST StreamClosed after the peer's FIN is Go forgetting a closed stream: a clean end
      s.ended = this.code === ErrorCode.StreamClosed && s.peerFin ? 'closed' : 'reset-remote'
      // libp2p closes the readable end at once unless data is still waiting to be read
      if (s.buffered === 0) { s.paused = false }
    }
    await settle(r)
    checkAgainstModel(m, r)
  }

  toString (): string { return `PeerRst(#${this.index}, ${this.code}${this.anyStream ? ', any' : ''})` }
}

class PeerFin implements Cmd {
  constructor (readonly index: number, readonly anyStream: boolean) {}
  check (m: Model): boolean { return m.streams.length > 0 }
  async run (m: Model, r: Real): Promise<void> {
    count(this)
    const candidates = this.anyStream ? m.streams : live(m)
    if (candidates.length === 0) { return }
    const s = pick(candidates, this.index)
    r.peer.send(encodeDataHeader(s.id, 0, true))
    if (s.ended == null) {
      s.peerFin = true
      flush(s)
    }
    await settle(r)
    checkAgainstModel(m, r)
  }

  toString (): string { return `PeerFin(#${this.index}${this.anyStream ? ', any' : ''})` }
}

const index = fc.nat(15)
const commands = [
  fc.constant(new AppOpen()),
  fc.constant(new PeerOpen()),
  fc.tuple(index, fc.oneof(fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 1, max: 100_000 })), fc.boolean()).map(([i, n, w]) => new AppWrite(i, n, w)),
  index.map(i => new AppPause(i)),
  index.map(i => new AppResume(i)),
  index.map(i => new AppCloseWrite(i)),
  index.map(i => new AppReset(i)),
  fc.tuple(index, fc.constantFrom<DataKind>('fit', 'fit', 'fill', 'over'), fc.integer({ min: 1, max: 40_000 }), fc.boolean()).map(([i, k, n, any]) => new PeerData(i, k, n, any)),
  fc.tuple(index, fc.oneof(fc.integer({ min: 1, max: 70_000 }), fc.constantFrom(0, MAX_UINT31, MAX_UINT31 - INITIAL_WINDOW)), fc.boolean()).map(([i, n, any]) => new PeerWndinc(i, n, any)),
  fc.tuple(index, fc.constantFrom(0, 1, 3, 4, 7), fc.boolean()).map(([i, code, any]) => new PeerRst(i, code, any)),
  fc.tuple(index, fc.boolean()).map(([i, any]) => new PeerFin(i, any))
]

function setup (): { model: Model, real: Real } {
  const peer = new RawPeer('client', {
    maxStreamWindow: MAX_STREAM_WINDOW,
    maxWriteBufferLength: MAX_WRITE_BUFFER,
    // the model checks behaviour, not the budgets (the checklist rows do)
    maxUselessFrames: 1_000_000,
    maxStreamResets: 1_000_000,
    maxStreamResetsPerSecond: 1_000_000
  })
  const real: Real = { peer, streams: new Map(), closeFailures: 0 }
  peer.muxer.addEventListener('stream', (evt) => { track(real, evt.detail) })
  return { model: { streams: [], nextLocalId: 3, nextRemoteId: 2 }, real }
}

/** Every counter at zero and no timer pending once the session is over */
async function expectAllZero (muxer: MuxadoMuxer, timers: TimerTracker, label: string): Promise<void> {
  await until(() => muxer.status === 'closed', `${label} to close`)
  await sleep(2)
  expect(counters(muxer), `${label} counters`).to.deep.equal(ZERO)
  expect(muxer.streams.every(s => s.status !== 'open'), `${label}: no stream left open`).to.equal(true)
  await expectNoTimers(timers, label)
}

describe('hostile: model-based and scheduler properties', function () {
  // a long MUXADO_FUZZ_RUNS run must not be cut off by mocha and keep running under later tests
  this.timeout(Math.max(120_000, fuzzRuns(0) * 1000))
  const timers = new TimerTracker()
  let unhandled: unknown[] = []
  let stopRecording = (): void => {}

  beforeEach(() => {
    unhandled = []
    stopRecording = onEscapedErrors((err) => { unhandled.push(err) })
    timers.install()
  })

  afterEach(() => {
    timers.restore()
    stopRecording()
  })

  it('row 47 / (c): random app actions and peer frames keep the muxer equal to the reference model of windows and stream states', async () => {
    await fc.assert(fc.asyncProperty(fc.commands(commands, { maxCommands: 40, size: 'max' }), async (cmds) => {
      const { model, real } = setup()
      try {
        await fc.asyncModelRun(() => ({ model, real }), cmds)
      } finally {
        real.peer.muxer.abort(new Error('run over'))
      }
    }), runs(100))
    await sleep(5)
    expect(unhandled).to.deep.equal([])
    const names = ['AppOpen', 'PeerOpen', 'AppWrite', 'AppPause', 'AppResume', 'AppCloseWrite', 'AppReset', 'PeerData', 'PeerWndinc', 'PeerRst', 'PeerFin']
    expect(names.filter(name => (executed.get(name) ?? 0) < 10), `commands that hardly ran: ${JSON.stringify(Object.fromEntries(executed))}`).to.deep.equal([])
  })

  it('(e): any command sequence ended by an abort leaves streams, the stream map, limits and timers at zero', async () => {
    await fc.assert(fc.asyncProperty(fc.commands(commands, { maxCommands: 30, size: 'max' }), fc.boolean(), async (cmds, byPeer) => {
      const { model, real } = setup()
      // run the same commands without stopping at model mismatches: (e) is only about the end state
      for (const cmd of cmds) {
        if (!cmd.check(model)) { continue }
        try { await cmd.run(model, real) } catch { /* model mismatches are (c)'s business */ }
      }
      if (byPeer) {
        real.peer.connection.abort(new Error('peer vanished'))
      } else {
        real.peer.muxer.abort(new Error('done'))
      }
      await expectAllZero(real.peer.muxer, timers, 'muxer')
      expect([...real.streams.values()].every(({ stream }) => stream.status !== 'open')).to.equal(true)
    }), runs(40))
    await sleep(5)
    expect(unhandled).to.deep.equal([])
  })

  describe('(d): scheduler-permuted close / write / reset / GOAWAY on a muxer pair', () => {
    type Op =
      | { op: 'open', side: 'client' | 'server' }
      | { op: 'write', stream: number, bytes: number }
      | { op: 'closeWrite', stream: number }
      | { op: 'reset', stream: number }
      | { op: 'close', side: 'client' | 'server' }
      | { op: 'abort', side: 'client' | 'server' }

    const side = fc.constantFrom<'client' | 'server'>('client', 'server')
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 3, arbitrary: side.map(s => ({ op: 'open' as const, side: s })) },
      { weight: 4, arbitrary: fc.record({ stream: fc.nat(7), bytes: fc.integer({ min: 1, max: 100_000 }) }).map(r => ({ op: 'write' as const, ...r })) },
      { weight: 2, arbitrary: fc.nat(7).map(stream => ({ op: 'closeWrite' as const, stream })) },
      { weight: 2, arbitrary: fc.nat(7).map(stream => ({ op: 'reset' as const, stream })) },
      { weight: 1, arbitrary: side.map(s => ({ op: 'close' as const, side: s })) },
      { weight: 1, arbitrary: side.map(s => ({ op: 'abort' as const, side: s })) }
    )

    /** Errors a caller may legitimately see when racing a closing stream or session */
    const EXPECTED = new Set(['StreamStateError', 'MuxerClosedError', 'RemoteGoAwayError', 'StreamResetError', 'ConnectionClosedError', 'StreamClosedError', 'StreamBufferError', 'close', 'AbortError', 'StreamAbortedError', 'UnexpectedEOFError'])

    for (const what of ['stream', 'muxer'] as const) {
      it(`(d) regression: a ${what} close() racing an abort settles (data queued beyond the window)`, async () => {
        const peer = new RawPeer('client')
        const stream = await peer.muxer.createStream()
        stream.send(new Uint8Array(65537))
        await sleep(5)
        const closing = what === 'stream' ? stream.close() : peer.muxer.close()
        const settled = closing.then(() => 'resolved', () => 'rejected')
        await sleep(5)
        if (what === 'stream') { stream.abort(new Error('give up')) } else { peer.muxer.abort(new Error('give up')) }
        expect(await within(settled, 500, () => `${what}.close() still pending after abort()`)).to.be.oneOf(['resolved', 'rejected'])
        peer.muxer.abort(new Error('test over'))
        await expectAllZero(peer.muxer, timers, 'muxer')
      })
    }

    it('(d): no unexpected throw, no hang, and both muxers end with every counter at zero', async () => {
      await fc.assert(fc.asyncProperty(fc.scheduler(), fc.array(op, { minLength: 1, maxLength: 16 }), async (s, ops) => {
        const { client, server } = muxerPair()
        const muxers = { client, server }
        const streams: MuxadoStream[] = []
        const unexpected: unknown[] = []
        const note = (err: any): void => {
          const name = err?.name ?? err?.type
          // our own resets and aborts come back to whoever was waiting on the stream
          if (err?.message === 'scheduled reset' || err?.message === 'scheduled abort') { return }
          if (!EXPECTED.has(name)) { unexpected.push(err) }
        }
        for (const muxer of [client, server]) {
          muxer.addEventListener('stream', (evt) => {
            const stream = evt.detail
            streams.push(stream)
            // read everything; answer with a little data and a FIN
            void (async () => {
              for await (const chunk of stream) { void chunk }
              if (stream.writeStatus === 'writable') {
                stream.send(new Uint8Array(10))
                await stream.close()
              }
            })().catch(note)
          })
        }
        const run = async (o: Op): Promise<void> => {
          if (o.op === 'open') {
            streams.push(await muxers[o.side].createStream())
            return
          }
          if (o.op === 'close') { await muxers[o.side].close(); return }
          if (o.op === 'abort') { muxers[o.side].abort(new Error('scheduled abort')); return }
          const stream = streams[o.stream % Math.max(1, streams.length)]
          if (stream == null) { return }
          if (o.op === 'write') { stream.send(new Uint8Array(o.bytes)); return }
          if (o.op === 'closeWrite') { await stream.close(); return }
          stream.abort(new Error('scheduled reset'))
        }
        const pending = new Set<string>()
        const tasks = ops.map(async (o, i) => {
          const label = `#${i} ${JSON.stringify(o)}`
          pending.add(label)
          await s.schedule(Promise.resolve(), label).then(async () => run(o)).catch(note)
          pending.delete(label)
        })
        await s.waitIdle()
        // end both sessions: gracefully if that completes in time (it legitimately waits while
        // a peer that does not read holds unsent data), else by abort, which must end everything
        const graceful = await Promise.all([client.close({ signal: AbortSignal.timeout(300) }), server.close({ signal: AbortSignal.timeout(300) })]).then(() => true, () => false)
        if (!graceful) {
          client.abort(new Error('scheduled abort'))
          server.abort(new Error('scheduled abort'))
        }
        await within(Promise.all(tasks), 1000, () => `operations still pending after the sessions ended: ${[...pending].join(', ')}; order run: ${s.report().map(r => r.label).join(', ')}`)
        await expectAllZero(client, timers, 'client')
        await expectAllZero(server, timers, 'server')
        expect(streams.every(st => st.status !== 'open'), 'every stream ended').to.equal(true)
        expect(unexpected).to.deep.equal([])
      }), runs(60))
      await sleep(5)
      expect(unhandled).to.deep.equal([])
    })
  })
})
