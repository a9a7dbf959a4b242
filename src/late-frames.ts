import { ErrorCode } from './protocol/constants.ts'

/** What the peer may still send for one stream that closed, without being wasteful */
interface Expected {
  /** WNDINC bytes: what we sent on the stream that the peer had not granted back */
  grant: number
  /**
   * FINs: Go sends one from `HalfClose()` and another from `Close()`, even on a
   * stream that was reset, so up to two per stream in all
   */
  fins: number
  /** one RST StreamClosed: Go's answer to our FIN or DATA on a stream it already removed */
  rst: boolean
  /** late DATA was answered with RST StreamClosed; later DATA gets no second one */
  dataAnswered: boolean
}

export interface ClosedStreamState {
  /** bytes we sent on the stream that the peer has not granted back */
  ungrantedBytes: number
  /** the peer had sent its FIN */
  peerFinished: boolean
}

/**
 * Streams that closed recently, and the frames the peer may still legitimately send for them.
 *
 * A peer cannot know at once that a stream is gone here. Go muxado grants window for every
 * `Read()`, and keeps reading (and granting) data that arrived before it saw our FIN; it sends a
 * second FIN from `Close()` after `HalfClose()`, and answers our last frames on a stream it has
 * removed with RST StreamClosed. Frames within what the stream could still produce are expected;
 * the rest, and frames for ids forgotten here, cost the session's useless-frame budget.
 *
 * Bounded: past `capacity` ids the oldest is forgotten, so its late frames count as useless.
 */
export class LateFrames {
  readonly capacity: number
  private readonly closed = new Map<number, Expected>()

  constructor (capacity: number) {
    this.capacity = capacity
  }

  /** closed streams remembered now */
  get size (): number {
    return this.closed.size
  }

  /** The stream closed: remember what the peer may still send for it */
  streamClosed (streamId: number, state: ClosedStreamState): void {
    this.remember(streamId, { grant: state.ungrantedBytes, fins: state.peerFinished ? 1 : 2, rst: true, dataAnswered: false })
  }

  /** A WNDINC for a closed stream: true if it is within what we sent and were not granted yet */
  expectWndinc (streamId: number, increment: number): boolean {
    const expected = this.closed.get(streamId)
    if (expected == null || increment === 0 || increment > expected.grant) { return false }
    expected.grant -= increment
    return true
  }

  /** An empty FIN for a closed stream: true while the peer has not sent Go's two FINs */
  expectFin (streamId: number): boolean {
    const expected = this.closed.get(streamId)
    if (expected == null || expected.fins === 0) { return false }
    expected.fins--
    return true
  }

  /** An RST for a closed stream: true for one RST StreamClosed */
  expectRst (streamId: number, errorCode: number): boolean {
    const expected = this.closed.get(streamId)
    if (errorCode !== ErrorCode.StreamClosed || expected?.rst !== true) { return false }
    expected.rst = false
    return true
  }

  /**
   * DATA with a payload for a closed stream. True the first time for an id: answer it with one
   * RST StreamClosed, as Go does, so a flood of DATA gets one RST per id, not one per frame.
   */
  answerLateData (streamId: number): boolean {
    const expected = this.closed.get(streamId)
    if (expected == null) {
      this.remember(streamId, { grant: 0, fins: 0, rst: false, dataAnswered: true })
      return true
    }
    if (expected.dataAnswered) { return false }
    expected.dataAnswered = true
    return true
  }

  private remember (streamId: number, expected: Expected): void {
    if (this.closed.size >= this.capacity) {
      // Map iterates in insertion order: the first key is the stream that closed longest ago
      this.closed.delete(this.closed.keys().next().value as number)
    }
    this.closed.set(streamId, expected)
  }
}
