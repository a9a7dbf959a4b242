import { expect } from 'aegir/chai'
import { FrameType, encodeSyn } from '../../src/protocol/index.ts'
import { yieldToEventLoop } from '../../src/yield.ts'
import { dataFrame } from '../helpers/bytes.ts'
import { RawPeer } from '../helpers/raw-peer.ts'
import { sleep, until } from '../helpers/time.ts'
import type { ErrorCode, MuxadoInit, MuxadoMuxer, MuxadoStream } from '../../src/index.ts'
import type { WireFrame } from '../helpers/frames.ts'

/**
 * Shared helpers for the hostile-peer suites: hand-made frames, counters that must return to
 * baseline, and a tracker for the timers code under test leaves behind.
 */

// the frame builders and waits live with the other suites' helpers; the hostile suites take them from here
export { concatBytes, dataFrame, dataFrames, header, u32 } from '../helpers/bytes.ts'
export { sleep, until, within } from '../helpers/time.ts'

/** One turn of the event loop, taken the way the muxer takes its own (setImmediate in Node) */
export async function tick (): Promise<void> {
  await new Promise<void>(resolve => { yieldToEventLoop(resolve) })
}

/**
 * Call `listener` with every error that escapes to the top (an uncaught exception or an unhandled
 * rejection) until the returned function is called: from `process` in Node, from the global scope
 * in a page or worker (where `process` is a shim whose `on` does nothing).
 */
export function onEscapedErrors (listener: (err: unknown) => void): () => void {
  if (typeof globalThis.addEventListener === 'function') {
    const onRejection = (evt: PromiseRejectionEvent): void => { listener(evt.reason) }
    const onError = (evt: ErrorEvent): void => { listener(evt.error) }
    globalThis.addEventListener('unhandledrejection', onRejection)
    globalThis.addEventListener('error', onError)
    return () => {
      globalThis.removeEventListener('unhandledrejection', onRejection)
      globalThis.removeEventListener('error', onError)
    }
  }
  process.on('unhandledRejection', listener)
  process.on('uncaughtException', listener)
  return () => {
    process.off('unhandledRejection', listener)
    process.off('uncaughtException', listener)
  }
}

/** The muxer's own bookkeeping, which must return to baseline after every scenario */
export interface Counters {
  /** libp2p-visible streams (`muxer.streams`) */
  streams: number
  /** the muxer's id → stream map, hidden heartbeat streams included */
  streamsById: number
  /** hidden streams (heartbeats) still in the map */
  hidden: number
  inbound: number
  outbound: number
  /** streams libp2p keeps until a 'stream' listener is added */
  early: number
}

export function counters (muxer: MuxadoMuxer): Counters {
  const internal = muxer as any
  const visible = new Set<MuxadoStream>(muxer.streams)
  const byId: Map<number, MuxadoStream> = internal.streamsById
  return {
    streams: muxer.streams.length,
    streamsById: byId.size,
    hidden: [...byId.values()].filter(s => !visible.has(s) && s.streamType >= 0xfffffeff).length,
    inbound: internal.inboundStreams,
    outbound: internal.outboundStreams,
    early: internal.earlyStreams.length
  }
}

export const ZERO: Counters = { streams: 0, streamsById: 0, hidden: 0, inbound: 0, outbound: 0, early: 0 }

/**
 * Records every timer and interval created through the globals while installed, so a test can
 * check that the code under test left none pending. `process.getActiveResourcesInfo()` cannot:
 * it does not list unref'ed timers, and the muxer unrefs all of its own.
 */
export class TimerTracker {
  private readonly live = new Map<unknown, string>()
  private readonly originals = {
    setTimeout: globalThis.setTimeout,
    clearTimeout: globalThis.clearTimeout,
    setInterval: globalThis.setInterval,
    clearInterval: globalThis.clearInterval,
    setImmediate: globalThis.setImmediate,
    clearImmediate: globalThis.clearImmediate
  }

  private installed = false

  install (): void {
    if (this.installed) { return }
    this.installed = true
    const { live, originals } = this
    // browsers throw "Illegal invocation" unless the timer functions are called on globalThis
    const wrappedSetTimeout = function (fn: (...args: any[]) => void, ms?: number, ...args: any[]): any {
      const timer = originals.setTimeout.call(globalThis, () => {
        live.delete(timer)
        fn(...args)
      }, ms)
      live.set(timer, `setTimeout(${ms ?? 0}) ${creationSite()}`)
      return timer
    }
    const wrappedClear = function (timer: any): void {
      live.delete(timer)
      originals.clearTimeout.call(globalThis, timer)
    }
    const wrappedSetInterval = function (fn: (...args: any[]) => void, ms?: number, ...args: any[]): any {
      const timer = originals.setInterval.call(globalThis, () => { fn(...args) }, ms)
      live.set(timer, `setInterval(${ms ?? 0}) ${creationSite()}`)
      return timer
    }
    const wrappedClearInterval = function (timer: any): void {
      live.delete(timer)
      originals.clearInterval.call(globalThis, timer)
    }
    const wrappedSetImmediate = function (fn: (...args: any[]) => void, ...args: any[]): any {
      const immediate = originals.setImmediate.call(globalThis, () => {
        live.delete(immediate)
        fn(...args)
      })
      live.set(immediate, `setImmediate ${creationSite()}`)
      return immediate
    }
    const wrappedClearImmediate = function (immediate: any): void {
      live.delete(immediate)
      originals.clearImmediate.call(globalThis, immediate)
    }
    // browsers have no setImmediate, and must not get one: the muxer picks its yield by it
    if (originals.setImmediate != null) {
      globalThis.setImmediate = wrappedSetImmediate as any
      globalThis.clearImmediate = wrappedClearImmediate as any
    }
    globalThis.setTimeout = wrappedSetTimeout as any
    globalThis.clearTimeout = wrappedClear as any
    globalThis.setInterval = wrappedSetInterval as any
    globalThis.clearInterval = wrappedClearInterval as any
  }

  restore (): void {
    if (!this.installed) { return }
    this.installed = false
    for (const [name, original] of Object.entries(this.originals)) {
      if (original != null) { (globalThis as any)[name] = original }
    }
    this.live.clear()
  }

  /** Timers, intervals and immediates created while installed that have neither fired nor been cleared */
  get pending (): number {
    return this.live.size
  }

  /** Where each pending timer was created */
  get pendingSites (): string[] {
    return [...this.live.values()]
  }
}

/** The first stack frame outside this file, to tell where a leaked timer came from */
function creationSite (): string {
  const frames = (new Error().stack ?? '').split('\n').slice(2)
  return (frames.find(f => !f.includes('harness')) ?? '').trim()
}

/** Ref'ed timers the process holds, as Node reports them (unref'ed ones are not listed) */
export function activeTimeouts (): number {
  return process.getActiveResourcesInfo().filter(r => r === 'Timeout').length
}

/**
 * Mocha hooks for a suite whose tests must leave no timers behind: installs a `TimerTracker`
 * before each test and fails the test if its timers are still pending after it. Returns the
 * tracker, so a test can check mid-way too.
 */
export function trackTimers (): TimerTracker {
  const tracker = new TimerTracker()
  beforeEach(() => {
    tracker.install()
  })
  afterEach(() => {
    tracker.restore()
  })
  return tracker
}

/**
 * Fail, naming where each timer was created, if any timer is still pending after a short grace
 * period (libp2p's connection queue debounces its 'idle' event by 1 ms)
 */
export async function expectNoTimers (timers: TimerTracker, label = 'muxer', graceMs = 50): Promise<void> {
  const deadline = Date.now() + graceMs
  while (timers.pending > 0 && Date.now() < deadline) { await sleep(1) }
  const sites = timers.pendingSites
  if (sites.length > 0) {
    throw new Error(`${label}: ${sites.length} timer(s) left pending:\n  ${sites.join('\n  ')}`)
  }
}

/**
 * The end state every row requires: the session's stream bookkeeping is empty and the muxer left
 * no timer running (checked after the muxer had a moment to finish).
 */
export async function expectReleased (muxer: MuxadoMuxer, timers: TimerTracker, label = 'muxer'): Promise<void> {
  await sleep(5)
  expect(counters(muxer), `${label} counters`).to.deep.equal(ZERO)
  await expectNoTimers(timers, label)
}

/**
 * Like `expectReleased`, but tolerates the session's hidden heartbeat streams in the stream map.
 * Used by rows that run heartbeats, so that their outcome is checked separately from the
 * heartbeat-stream cleanup (see the "heartbeat streams leave the stream map" test).
 */
export async function expectReleasedExceptHidden (muxer: MuxadoMuxer, timers: TimerTracker, label = 'muxer'): Promise<void> {
  await sleep(5)
  const c = counters(muxer)
  expect({ ...c, streamsById: c.streamsById - c.hidden, hidden: 0 }, `${label} counters`).to.deep.equal(ZERO)
  await expectNoTimers(timers, label)
}

/** End an open session and check it leaves nothing behind */
export async function abortAndExpectReleased (muxer: MuxadoMuxer, timers: TimerTracker): Promise<void> {
  if (muxer.status !== 'closed') { muxer.abort(new Error('test over')) }
  await expectReleased(muxer, timers)
}

/** The error a stream's 'close' event carried, once it closes */
export function closeError (stream: MuxadoStream): { readonly closed: boolean, readonly error: Error | undefined, readonly events: number } {
  const state = { closed: false, error: undefined as Error | undefined, events: 0 }
  stream.addEventListener('close', (evt: any) => {
    state.closed = true
    state.events++
    state.error = evt.error
  })
  return state
}

export const isGoaway = (f: WireFrame): boolean => f.type === FrameType.GOAWAY

/** Keep every inbound stream, by id, with a permanent 'stream' listener (so none count as early) */
export function acceptAll (peer: RawPeer): Map<number, MuxadoStream> {
  const accepted = new Map<number, MuxadoStream>()
  peer.muxer.addEventListener('stream', (evt) => { accepted.set(evt.detail.streamId, evt.detail) })
  return accepted
}

/**
 * A server muxer whose application accepted stream 3 from the peer and reset it: resolves once
 * our RST is on the wire, with the streams accepted (now and later)
 */
export async function resetByApp (init: MuxadoInit = {}): Promise<{ peer: RawPeer, accepted: Map<number, MuxadoStream> }> {
  const peer = new RawPeer('server', init)
  const accepted = acceptAll(peer)
  peer.send(encodeSyn(3))
  await until(() => accepted.has(3), 'stream 3')
  accepted.get(3)?.abort(new Error('app gave up'))
  await peer.waitForFrame(f => f.type === FrameType.RST && f.streamId === 3)
  return { peer, accepted }
}

/** DATA payload bytes the muxer sent on one stream */
export function sentOn (peer: RawPeer, streamId: number): number {
  return peer.framesOf(FrameType.DATA, streamId).reduce((sum, f) => sum + (f.payload?.byteLength ?? 0), 0)
}

/** What the muxer allows the peer to send on a stream: the initial window plus every WNDINC it sent */
function creditFrom (peer: RawPeer, streamId: number): number {
  return 65536 + peer.framesOf(FrameType.WNDINC, streamId).reduce((sum, f) => sum + (f.increment ?? 0), 0)
}

/**
 * A peer that sends DATA on `streamId` as fast as the window it is granted allows, in frames of
 * at most `frameSize` bytes, until no new credit has come for 5 ms. `eachTick` runs once a
 * millisecond with the bytes sent so far. Returns the bytes sent.
 */
export async function sendAllCredit (peer: RawPeer, streamId: number, frameSize: number, eachTick?: (sent: number) => void): Promise<number> {
  let sent = 0
  for (let idle = 0; idle < 5;) {
    const credit = creditFrom(peer, streamId) - sent
    if (credit > 0) {
      const n = Math.min(credit, frameSize)
      peer.send(dataFrame(streamId, n))
      sent += n
      idle = 0
    } else {
      idle++
    }
    eachTick?.(sent)
    await sleep(1)
  }
  return sent
}

/** The session ends with exactly one GOAWAY carrying `code`, and nothing follows it */
export async function expectGoaway (peer: RawPeer, code: ErrorCode): Promise<void> {
  const goaway = await peer.waitForFrame(isGoaway)
  expect(goaway.errorCode, 'GOAWAY code').to.equal(code)
  await until(() => peer.muxer.status === 'closed', 'the session to close')
  expect(peer.framesOf(FrameType.GOAWAY), 'GOAWAY sent once').to.have.length(1)
  expect(peer.frames[peer.frames.length - 1].type).to.equal(FrameType.GOAWAY)
}
