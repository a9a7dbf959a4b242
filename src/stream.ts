import { StreamMessageEvent, StreamResetEvent } from '@libp2p/interface'
import { AbstractStream } from '@libp2p/utils'
import { pushable } from 'it-pushable'
import { Uint8ArrayList } from 'uint8arraylist'
import { DataAfterFinError, FlowControlError, StreamResetByPeerError, streamResetCode } from './errors.ts'
import { ReceiveWindow } from './flow.ts'
import { ErrorCode, INITIAL_WINDOW, MAX_PAYLOAD, MAX_UINT31 } from './protocol/constants.ts'
import { encodeDataHeader, encodeRst, encodeSyn, encodeWndinc } from './protocol/encode.ts'
import { MAX_BATCH_BYTES } from './writer.ts'
import { runInMicrotask } from './yield.ts'
import type { WindowTuning } from './flow.ts'
import type { AbortOptions, StreamCloseEvent } from '@libp2p/interface'
import type { AbstractStreamInit, SendResult } from '@libp2p/utils'

/** What a stream may ask of its session; each muxer hands its streams one, and the package does not export it */
export interface StreamSession {
  /** queue bytes for the connection; frames queued in one event-loop turn go out together */
  enqueue(bytes: Uint8Array): void
  /** queue the first `bytes` bytes of `data` as this stream's DATA frames */
  enqueueData(streamId: number, data: Uint8Array | Uint8ArrayList, bytes: number): void
  /** false while the connection refuses more data */
  isWritable(): boolean
  /**
   * The connection refused more data: resume this stream (`resumeAfterDrain`) once it drains,
   * after the streams that started waiting before it. Waiting twice keeps the first place.
   */
  waitForDrain(stream: MuxadoStream): void
  /** counts the session's turns of resuming waiting streams */
  wakeTurn(): number
  /** false once the session is going down and per-stream frames are pointless */
  isOpen(): boolean
  /** spend the churn budget for a reset the peer caused; false when that ended the session */
  chargeStreamReset(): boolean
  /** the stream closed: the session forgets it, before any of the stream's 'close' listeners run */
  streamClosed(stream: MuxadoStream): void
}

// The muxer's calls into a stream, keyed by symbols the package does not export (as Node's
// http2 does), so an application holding a stream cannot feed it frames.
export const receiveData = Symbol('muxado.receiveData')
export const deliverPending = Symbol('muxado.deliverPending')
export const receiveWindowIncrement = Symbol('muxado.receiveWindowIncrement')
export const receiveReset = Symbol('muxado.receiveReset')
export const abortUnseen = Symbol('muxado.abortUnseen')
export const resumeAfterDrain = Symbol('muxado.resumeAfterDrain')

/**
 * The most a stream frames in one go: past it, the base class's send loop asks again, so a stream
 * holding megabytes of window stops as soon as the connection refuses more (one writer batch)
 */
const MAX_FRAMED_AT_ONCE = MAX_BATCH_BYTES

interface MuxadoStreamInit extends AbstractStreamInit {
  streamId: number
  /** the opaque u32 type from the SYN; 0 for untyped streams */
  streamType: number
  session: StreamSession
  maxStreamWindow: number
  /** the session's RTT estimate and receive budget; without it the window stays at 64 KiB */
  tuning?: WindowTuning
}

/**
 * One muxado stream as a libp2p v3 `Stream`. Sending is bounded by the peer's window; receiving
 * grants window back only as the application consumes data (see `ReceiveWindow`).
 */
export class MuxadoStream extends AbstractStream {
  readonly streamId: number
  readonly streamType: number
  private readonly session: StreamSession
  private readonly receiveWindow: ReceiveWindow
  private sendWindow = INITIAL_WINDOW
  /** set when the peer never saw this stream, so an RST for it would be a protocol error there */
  private unseenByPeer = false
  private resumeScheduled = false
  /**
   * the session's wake turn in which 'drain' told the writer to write, until it writes: in that
   * turn, others filling the connection do not stop it first
   */
  private wokenInTurn = -1
  /** bytes the application wrote since 'drain' last told it to: what it is likely to write when told again */
  private writtenSinceWake = 0
  /** full DATA frames of a write whose last frame has not been decoded yet */
  private readonly pending: Array<Uint8Array | Uint8ArrayList> = []

  constructor (init: MuxadoStreamInit) {
    super(init)
    this.streamId = init.streamId
    this.streamType = init.streamType
    this.session = init.session
    this.receiveWindow = new ReceiveWindow(init.maxStreamWindow, init.tuning)

    // Allocating the id and queueing the SYN in one step keeps SYNs in id order
    if (this.direction === 'outbound') {
      this.session.enqueue(encodeSyn(this.streamId, this.streamType))
    }
  }

  /** Bytes we sent that the peer has not granted back yet: at most what its late WNDINCs add up to */
  get ungrantedBytes (): number {
    return Math.max(0, INITIAL_WINDOW - this.sendWindow)
  }

  // ---- application → wire

  /**
   * Fast path, kept because it is measured: through the base class's write buffer a 64 B round
   * trip costs 8–28 % more CPU. With nothing queued and window to spare, the bytes are framed
   * straight into the session's batch; anything else goes through the base class.
   * test/upstream.spec.ts pins the base-class fields read here.
   */
  send (data: Uint8Array | Uint8ArrayList): boolean {
    this.wokenInTurn = -1
    this.writtenSinceWake += data.byteLength
    if (this.writeStatus !== 'writable' || this.writableNeedsDrain || this.sendingData ||
      this.writeBuffer.byteLength > 0 || this.maxMessageSize != null || data.byteLength === 0 ||
      data.byteLength > Math.min(this.sendWindow, MAX_FRAMED_AT_ONCE) || !this.session.isWritable()) {
      return super.send(data)
    }
    this.sendWindow -= data.byteLength
    this.session.enqueueData(this.streamId, data, data.byteLength)
    if (!this.session.isWritable()) {
      this.waitForConnection()
      return false
    }
    if (this.sendWindow === 0) {
      this.waitForWindow()
      return false
    }
    return true
  }

  sendData (data: Uint8ArrayList): SendResult {
    if (!this.session.isWritable()) {
      this.waitForConnection()
      return { sentBytes: 0, canSendMore: false }
    }
    const sentBytes = Math.min(this.sendWindow, data.byteLength, MAX_FRAMED_AT_ONCE)
    this.sendWindow -= sentBytes
    this.session.enqueueData(this.streamId, data, sentBytes)
    if (!this.session.isWritable()) {
      this.waitForConnection()
      return { sentBytes, canSendMore: false }
    }
    // with the window used up the base class makes the writer wait, even if this write is all out
    return { sentBytes, canSendMore: this.sendWindow > 0 }
  }

  /** The connection refused more data: hold what the application writes until it drains */
  private waitForConnection (): void {
    this.writableNeedsDrain = true
    this.session.waitForDrain(this)
  }

  /**
   * The peer's window is used up: the writer waits for its grant ('drain' on WNDINC), so a write
   * it makes meanwhile is not held here, in memory, until then
   */
  private waitForWindow (): void {
    this.writableNeedsDrain = true
  }

  sendReset (err: Error): void {
    if (!this.session.isOpen() || this.unseenByPeer) { return }
    this.session.enqueue(encodeRst(this.streamId, streamResetCode(err)))
  }

  async sendCloseWrite (options?: AbortOptions): Promise<void> {
    // FIN always rides on DATA; a SYN|FIN is never sent
    this.session.enqueue(encodeDataHeader(this.streamId, 0, true))
    options?.signal?.throwIfAborted()
  }

  async sendCloseRead (options?: AbortOptions): Promise<void> {
    // muxado has no STOP_SENDING: grant back what we dropped so the peer is not left waiting
    this.grant(this.receiveWindow.release())
    options?.signal?.throwIfAborted()
  }

  sendPause (): void {
    // Nothing to send: a paused stream stops consuming, so it stops granting window
  }

  sendResume (): void {
    // Nothing to send: buffered data is dispatched on resume, which grants window
  }

  // ---- wire → application

  /**
   * A DATA frame arrived for this stream. Senders split a write into full 16383-byte frames and
   * a shorter last one, so a short frame ends a message: its payload goes to the reader together
   * with the full frames before it, one message per write instead of one per frame. Returns
   * true when full frames wait for the end of the chunk being decoded (`deliverPending`).
   */
  [receiveData] (payload: Uint8Array | Uint8ArrayList, fin: boolean): boolean {
    let waiting = false
    if (payload.byteLength > 0) {
      if (this.remoteWriteStatus === 'closed') {
        this.abortForPeer(new DataAfterFinError(`DATA on stream ${this.streamId} after its FIN`))
        return false
      }
      if (!this.receiveWindow.receive(payload.byteLength)) {
        this.abortForPeer(new FlowControlError(`Stream ${this.streamId} received ${payload.byteLength} bytes with a window of ${this.receiveWindow.remaining}`))
        return false
      }
      if (payload.byteLength === MAX_PAYLOAD) {
        this.pending.push(payload)
        waiting = this.pending.length === 1
      } else if (this.pending.length === 0) {
        // a whole write in one frame: nothing to gather
        this.deliver(payload)
      } else {
        this.pending.push(payload)
        this[deliverPending]()
      }
    }
    // A repeated FIN is normal from Go (HalfClose then Close)
    if (fin) {
      this[deliverPending]()
      this.receiveWindow.peerFinished()
      this.onRemoteCloseWrite()
    }
    return waiting
  }

  /** Hand the payloads received since the last delivery to the reader as one message */
  [deliverPending] (): void {
    const pieces = this.pending
    if (pieces.length === 0) { return }
    const payload = pieces.length === 1 ? pieces[0] : new Uint8ArrayList(...pieces)
    // emptied in place: a new array per message would be garbage on every full frame
    pieces.length = 0
    this.deliver(payload)
  }

  /** Hand one message to the reader */
  private deliver (payload: Uint8Array | Uint8ArrayList): void {
    if (this.readBuffer.byteLength === 0 && this.readStatus === 'readable' && this.listenerCount('message') > 0) {
      // the payload itself: through the base class's read buffer a Uint8Array would arrive
      // wrapped in a new Uint8ArrayList
      this.dispatchEvent(new StreamMessageEvent(payload))
    } else {
      this.onData(payload)
    }
    // a closed readable end drops data; grant it back so the peer is not held
    if (this.readStatus === 'closing' || this.readStatus === 'closed') { this.grant(this.receiveWindow.release()) }
  }

  /**
   * Every 'message' hands data to the application, from the read buffer or straight from the
   * wire: that is consumption, counted here only, and it earns the peer window. Before 'close'
   * reaches any listener, the session forgets the stream (a listener may open another in its
   * slot) and the stream's share of the session's receive budget goes back: here, where every
   * event passes anyway, rather than from listeners added per stream.
   */
  dispatchEvent (event: Event): boolean {
    if (event.type === 'close') {
      this.session.streamClosed(this)
      this.receiveWindow.stopTuning()
    }
    const dispatched = super.dispatchEvent(event)
    if (event.type === 'message') { this.grant(this.receiveWindow.consume((event as StreamMessageEvent).data.byteLength)) }
    return dispatched
  }

  private grant (increment: number): void {
    if (increment > 0 && this.session.isOpen() && this.status === 'open') {
      this.session.enqueue(encodeWndinc(this.streamId, increment))
    }
  }

  /** A WNDINC arrived: the peer consumed data and we may send more */
  [receiveWindowIncrement] (increment: number): void {
    if (this.sendWindow + increment > MAX_UINT31) {
      this.abortForPeer(new FlowControlError(`WNDINC of ${increment} overflows the window of stream ${this.streamId}`))
      return
    }
    this.sendWindow += increment
    // WNDINCs decoded in one turn add up before we send: 1-byte grants do not make 1-byte frames
    if (!this.resumeScheduled) {
      this.resumeScheduled = true
      runInMicrotask(this.resumeAfterGrants)
    }
  }

  private readonly resumeAfterGrants = (): void => {
    this.resumeScheduled = false
    if (this.session.isWritable()) {
      this.resumeSending()
    } else if (this.writableNeedsDrain) {
      this.session.waitForDrain(this)
    }
  }

  /**
   * The peer reset the stream. A StreamClosed reset after the peer's FIN is Go forgetting a
   * stream it closed (its Close() removes the stream at once): the stream ends without an error.
   */
  [receiveReset] (errorCode: number): void {
    this[deliverPending]()
    if (errorCode === ErrorCode.StreamClosed && this.remoteWriteStatus === 'closed') {
      this.onTransportClosed()
    } else {
      this.onRemoteResetWith(new StreamResetByPeerError(errorCode))
    }
  }

  /**
   * The connection drained and it is this stream's turn. Returns the bytes its writer, told to
   * write, is likely to hand over now: as much as after the last time (a writer that writes until
   * refused, a whole batch), at most the window; 0 when it was not told.
   */
  [resumeAfterDrain] (): number {
    if (!this.resumeSending()) { return 0 }
    this.wokenInTurn = this.session.wakeTurn()
    const expected = Math.min(this.writtenSinceWake > 0 ? this.writtenSinceWake : Infinity, this.sendWindow)
    this.writtenSinceWake = 0
    return expected
  }

  /**
   * Send what the window now allows; 'drain' only once the write buffer is empty (see
   * onMuxerDrain). With no window the peer's grant resumes the stream instead. True when
   * 'drain' told the writer to write.
   */
  private resumeSending (): boolean {
    if (!this.writableNeedsDrain || this.sendWindow === 0) {
      return false
    }
    this.writableNeedsDrain = false
    try {
      if (this.processSendQueue() && this.writeBufferLength === 0) {
        this.safeDispatchEvent('drain')
        return true
      }
    } catch (err) {
      this.log.error('resuming the send queue failed - %e', err)
    }
    return false
  }

  /** A stream fault the peer caused: reset this stream only, unless the peer keeps doing it */
  private abortForPeer (err: Error): void {
    if (this.session.chargeStreamReset()) {
      this.abort(err)
    }
  }

  /**
   * The peer's GOAWAY says it never saw this stream. Go closes such streams locally without an
   * RST: to the peer the id is unassigned, and an RST for it would kill the session.
   */
  [abortUnseen] (err: Error): void {
    this.unseenByPeer = true
    this.abort(err)
  }

  // ---- workarounds for @libp2p/utils 7.4.1: each is written up in docs/upstream-bugs.md, and
  // test/upstream.spec.ts fails once the base behaviour it relies on changes

  /**
   * The base class's `onRemoteReset()` takes no error, so its 'close' cannot carry the peer's
   * code: this is `onRemoteReset()` with the error passed in.
   */
  private onRemoteResetWith (err: StreamResetByPeerError): void {
    this.status = 'reset'
    this.writeStatus = 'closed'
    this.remoteWriteStatus = 'closed'
    this.remoteReadStatus = 'closed'
    this.timeline.close = Date.now()
    if (this.readBuffer.byteLength === 0) {
      this.readStatus = 'closed'
      this.maybeDispatchEnd()
    }
    this.dispatchEvent(new StreamResetEvent(err))
  }

  /**
   * The base class fires 'drain' on every stream whenever the connection drains, data still
   * waiting for window or not; writers woken that way grow the buffer without bound. And it wakes
   * them all at once, in the same order every time, so the first streams would hand the
   * connection everything they hold. The muxer resumes the streams waiting for the connection
   * itself, in turn, while it accepts data (`waitForDrain`).
   */
  onMuxerDrain (): void {}

  /**
   * The connection refused data: every stream waits its turn, so a writer holds its next write
   * instead of parking it here. A writer just told 'drain' is the exception: it was woken to
   * write, and the base class marking it again would only make it wait twice for one write.
   */
  onMuxerNeedsDrain (): void {
    if (this.wokenInTurn !== this.session.wakeTurn()) { this.waitForConnection() }
  }

  /**
   * The base class's close() waits for 'idle' and then for 'drain'; an abort meanwhile fires
   * 'close' before that second wait starts, and close() then never returns. End it with the stream.
   */
  async close (options?: AbortOptions): Promise<void> {
    if (this.status !== 'open') { return }
    const allOut = this.writeBuffer.byteLength === 0 && !this.sendingData
    // only the peer's window is used up: the FIN needs no window, and the base class would hold
    // it back until the peer grants more
    if (allOut && this.writableNeedsDrain && this.session.isWritable()) {
      this.writableNeedsDrain = false
    }
    if (allOut && !this.writableNeedsDrain) {
      // nothing to wait for: the base class queues the FIN at once, so no abort can strand it,
      // and most streams close this way (a listener per close was a few per cent of opening one)
      await super.close(options)
      return
    }
    let onClose = (_evt: StreamCloseEvent): void => {}
    const ended = new Promise<void>((resolve, reject) => {
      onClose = (evt) => { if (evt.error != null) { reject(evt.error) } else { resolve() } }
      this.addEventListener('close', onClose, { once: true })
    })
    try {
      await Promise.race([super.close(options), ended])
    } finally {
      this.removeEventListener('close', onClose)
    }
  }

  /**
   * The base iterator ends on 'remoteCloseWrite' (already fired when the peer's data and FIN came
   * before the reader, so it hangs) or on a clean 'close' (losing what a paused reader still has
   * buffered). This one ends on 'end', dispatched once the peer's FIN is in and everything before
   * it was delivered; after an abort or reset the 'close' that follows carries the error.
   */
  async * [Symbol.asyncIterator] (): AsyncGenerator<Uint8Array | Uint8ArrayList> {
    if ((this.readStatus !== 'readable' && this.readStatus !== 'paused') ||
      (this.remoteWriteStatus === 'closed' && this.readBuffer.byteLength === 0)) {
      return
    }
    const output = pushable<Uint8Array | Uint8ArrayList>()
    const onMessage = (evt: StreamMessageEvent): void => { output.push(evt.data) }
    const onEnd = (): void => { if (this.status !== 'aborted' && this.status !== 'reset') { output.end() } }
    // a clean close with data still buffered (a paused reader) ends at 'end', once that is read
    const onClose = (evt: StreamCloseEvent): void => { if (evt.error != null || this.readBuffer.byteLength === 0) { output.end(evt.error) } }
    this.addEventListener('message', onMessage)
    this.addEventListener('end', onEnd)
    this.addEventListener('close', onClose)
    try {
      yield * output
    } finally {
      this.removeEventListener('message', onMessage)
      this.removeEventListener('end', onEnd)
      this.removeEventListener('close', onClose)
    }
  }
}
