import { StreamMessageEvent, StreamResetEvent } from '@libp2p/interface'
import { AbstractStream } from '@libp2p/utils'
import { pushable } from 'it-pushable'
import { Uint8ArrayList } from 'uint8arraylist'
import { DataAfterFinError, FlowControlError, StreamResetByPeerError, streamResetCode } from './errors.ts'
import { ReceiveWindow } from './flow.ts'
import { ErrorCode, INITIAL_WINDOW, MAX_PAYLOAD, MAX_UINT31 } from './protocol/constants.ts'
import { encodeDataHeader, encodeRst, encodeSyn, encodeWndinc } from './protocol/encode.ts'
import type { WindowTuning } from './flow.ts'
import type { AbortOptions, StreamCloseEvent } from '@libp2p/interface'
import type { AbstractStreamInit, SendResult } from '@libp2p/utils'

/** What a stream needs from its session: the shared write queue and the connection's state */
export interface StreamSession {
  /** queue bytes for the connection; frames queued in one event-loop turn go out together */
  enqueue(bytes: Uint8Array): void
  /** queue bytes ahead of everything `enqueue` queued in this turn (heartbeats) */
  enqueueUrgent(bytes: Uint8Array): void
  /** false while the connection refuses more data */
  readonly writable: boolean
  /** false once the session is going down and per-stream frames are pointless */
  readonly open: boolean
  /** spend the churn budget for a reset the peer caused; false when that ended the session */
  chargeStreamReset(): boolean
  /** call the stream's `deliverReceived()` once the chunk being decoded is done */
  deliverLater(stream: MuxadoStream): void
}

export interface MuxadoStreamInit extends AbstractStreamInit {
  streamId: number
  /** the opaque u32 type from the SYN; 0 for untyped streams */
  streamType: number
  session: StreamSession
  maxStreamWindow: number
  /** the session's RTT estimate and receive budget; without it the window stays at 64 KiB */
  tuning?: WindowTuning
  /** every frame of this stream goes ahead of other streams' frames (the heartbeat streams) */
  urgent?: boolean
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
  private readonly enqueue: (bytes: Uint8Array) => void
  private sendWindow = INITIAL_WINDOW
  /** set when the peer never saw this stream, so an RST for it would be a protocol error there */
  private unseenByPeer = false
  private resumeScheduled = false
  /** full DATA frames of a write whose last frame has not been decoded yet */
  private undelivered: Array<Uint8Array | Uint8ArrayList> = []

  constructor (init: MuxadoStreamInit) {
    super(init)
    this.streamId = init.streamId
    this.streamType = init.streamType
    this.session = init.session
    this.receiveWindow = new ReceiveWindow(init.maxStreamWindow, init.tuning)
    this.enqueue = init.urgent === true ? (bytes) => { init.session.enqueueUrgent(bytes) } : (bytes) => { init.session.enqueue(bytes) }
    this.addEventListener('close', () => { this.receiveWindow.stopTuning() }, { once: true })

    // Allocating the id and queueing the SYN in one step keeps SYNs in id order
    if (this.direction === 'outbound') {
      this.enqueue(encodeSyn(this.streamId, this.streamType))
    }
  }

  /** Bytes we sent that the peer has not granted back yet: at most what its late WNDINCs add up to */
  get ungrantedBytes (): number {
    return Math.max(0, INITIAL_WINDOW - this.sendWindow)
  }

  // ---- application → wire

  /**
   * Fast path: with nothing queued and window to spare, frame the bytes straight onto the
   * session's batch instead of going through the base class's write buffer.
   */
  send (data: Uint8Array | Uint8ArrayList): boolean {
    if (this.writeStatus !== 'writable' || this.writableNeedsDrain || this.sendingData ||
      this.writeBuffer.byteLength > 0 || this.maxMessageSize != null ||
      data.byteLength === 0 || data.byteLength > this.sendWindow) {
      return super.send(data)
    }
    this.sendWindow -= data.byteLength
    this.enqueueDataFrames(data, data.byteLength)
    // everything went out: only the connection can make us wait (a FIN needs no window)
    const canSendMore = this.session.writable
    this.writableNeedsDrain = !canSendMore
    return canSendMore
  }

  /**
   * The base class's close() waits for 'idle' and then for 'drain'; an abort meanwhile fires
   * 'close' before that second wait starts, and close() then never returns. End it with the stream.
   */
  async close (options?: AbortOptions): Promise<void> {
    if (this.status !== 'open') { return }
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
   * Workaround, `@libp2p/utils` 7.4.1: the base iterator ends on 'remoteCloseWrite' or 'close'. When
   * the peer's data and FIN arrive before the reader is attached (a Go dialer's optimistic
   * multistream-select sends them at once), 'remoteCloseWrite' has already fired and the iterator
   * waits for 'close', which needs our write end closed too: a handler that reads to the end
   * before replying hangs. This one ends on 'end', which the base class dispatches once the
   * peer's FIN is in and everything before it was delivered (docs/upstream-bugs.md); an abort or
   * reset also dispatches 'end', and then the 'close' after it carries the error. The base
   * iterator also ends on a clean 'close' while a paused reader still has data buffered, which
   * loses that data; this one waits for the data and its 'end'.
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

  sendData (data: Uint8ArrayList): SendResult {
    const sentBytes = Math.min(this.sendWindow, data.byteLength)
    this.sendWindow -= sentBytes
    this.enqueueDataFrames(data, sentBytes)
    return {
      sentBytes,
      canSendMore: (this.sendWindow > 0 || sentBytes === data.byteLength) && this.session.writable
    }
  }

  sendReset (err: Error): void {
    if (!this.session.open || this.unseenByPeer) { return }
    this.enqueue(encodeRst(this.streamId, streamResetCode(err)))
  }

  async sendCloseWrite (options?: AbortOptions): Promise<void> {
    // FIN always rides on DATA; a SYN|FIN is never sent
    this.enqueue(encodeDataHeader(this.streamId, 0, true))
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

  /** Split `bytes` bytes of `data` into DATA frames of at most 16383 bytes, without copying */
  private enqueueDataFrames (data: Uint8Array | Uint8ArrayList, bytes: number): void {
    if (data instanceof Uint8Array) {
      for (let offset = 0; offset < bytes; offset += MAX_PAYLOAD) {
        const n = Math.min(MAX_PAYLOAD, bytes - offset)
        this.enqueue(encodeDataHeader(this.streamId, n, false))
        this.enqueue(n === data.byteLength ? data : data.subarray(offset, offset + n))
      }
      return
    }
    // a frame may span buffers of the list
    let unframed = bytes
    let frameLeft = 0
    for (const buf of data) {
      let offset = 0
      while (offset < buf.byteLength && (frameLeft > 0 || unframed > 0)) {
        if (frameLeft === 0) {
          frameLeft = Math.min(MAX_PAYLOAD, unframed)
          unframed -= frameLeft
          this.enqueue(encodeDataHeader(this.streamId, frameLeft, false))
        }
        const n = Math.min(frameLeft, buf.byteLength - offset)
        this.enqueue(buf.subarray(offset, offset + n))
        offset += n
        frameLeft -= n
      }
      if (frameLeft === 0 && unframed === 0) { return }
    }
  }

  // ---- wire → application

  /**
   * A DATA frame arrived for this stream. Senders split a write into full 16383-byte frames and
   * a shorter last one, so a short frame ends a message: its payload goes to the reader together
   * with the full frames before it, one message per write instead of one per frame. Full frames
   * still waiting when the chunk is decoded are delivered then.
   */
  onDataFrame (payload: Uint8Array | Uint8ArrayList, fin: boolean): void {
    if (payload.byteLength > 0) {
      if (this.remoteWriteStatus === 'closed') {
        this.abortForPeer(new DataAfterFinError(`DATA on stream ${this.streamId} after its FIN`))
        return
      }
      if (!this.receiveWindow.receive(payload.byteLength)) {
        this.abortForPeer(new FlowControlError(`Stream ${this.streamId} received ${payload.byteLength} bytes with a window of ${this.receiveWindow.remaining}`))
        return
      }
      if (payload.byteLength < MAX_PAYLOAD && this.undelivered.length === 0) {
        // a write of one frame: nothing to gather
        this.deliver(payload)
      } else {
        this.undelivered.push(payload)
        if (payload.byteLength < MAX_PAYLOAD) {
          this.deliverReceived()
        } else if (this.undelivered.length === 1) {
          this.session.deliverLater(this)
        }
      }
    }
    // A repeated FIN is normal from Go (HalfClose then Close)
    if (fin) {
      this.deliverReceived()
      this.receiveWindow.peerFinished()
      this.onRemoteCloseWrite()
    }
  }

  /** Hand the payloads received since the last delivery to the reader as one message */
  deliverReceived (): void {
    const pieces = this.undelivered
    if (pieces.length === 0) { return }
    this.undelivered = []
    this.deliver(pieces.length === 1 ? pieces[0] : new Uint8ArrayList(...pieces))
  }

  private deliver (payload: Uint8Array | Uint8ArrayList): void {
    if (this.readBuffer.byteLength === 0 && this.readStatus === 'readable' && this.listenerCount('message') > 0) {
      // fast path: hand the payload views straight to the reader, as the base class would after
      // copying them in and out of the read buffer
      this.dispatchEvent(new StreamMessageEvent(payload))
      this.grant(this.receiveWindow.consume(payload.byteLength))
    } else {
      this.onData(payload)
    }
    // a closed readable end drops data; grant it back so the peer is not held
    if (this.readStatus === 'closing' || this.readStatus === 'closed') { this.grant(this.receiveWindow.release()) }
  }

  /** A WNDINC arrived: the peer consumed data and we may send more */
  onWindowIncrement (increment: number): void {
    if (this.sendWindow + increment > MAX_UINT31) {
      this.abortForPeer(new FlowControlError(`WNDINC of ${increment} overflows the window of stream ${this.streamId}`))
      return
    }
    this.sendWindow += increment
    // WNDINCs decoded in one turn add up before we send: 1-byte grants do not make 1-byte frames
    if (!this.resumeScheduled) {
      this.resumeScheduled = true
      queueMicrotask(() => {
        this.resumeScheduled = false
        if (this.session.writable) {
          this.resumeSending()
        }
      })
    }
  }

  /** The connection drained. Unlike the base class, only wake writers when this stream can send. */
  onMuxerDrain (): void {
    this.resumeSending()
  }

  /**
   * Send what the window now allows, and fire 'drain' only once the write buffer is empty:
   * 'drain' means "write again", and firing it while data still waits (on every connection
   * drain, as the base class does) lets writers grow the buffer without bound.
   */
  private resumeSending (): void {
    if (!this.writableNeedsDrain) {
      return
    }
    this.writableNeedsDrain = false
    try {
      if (this.processSendQueue() && this.writeBufferLength === 0) {
        this.safeDispatchEvent('drain')
      }
    } catch (err) {
      this.log.error('resuming the send queue failed - %e', err)
    }
  }

  /**
   * The peer reset the stream. Mirrors the base class's `onRemoteReset`, but the error carries
   * the code. A StreamClosed reset after the peer's FIN is Go forgetting a stream it closed
   * (its Close() removes the stream at once), so it ends the stream without an error.
   */
  onRstFrame (errorCode: number): void {
    this.deliverReceived()
    if (errorCode === ErrorCode.StreamClosed && this.remoteWriteStatus === 'closed') {
      this.onTransportClosed()
      return
    }
    this.status = 'reset'
    this.writeStatus = 'closed'
    this.remoteWriteStatus = 'closed'
    this.remoteReadStatus = 'closed'
    this.timeline.close = Date.now()
    if (this.readBuffer.byteLength === 0) {
      this.readStatus = 'closed'
      this.maybeDispatchEnd()
    }
    this.dispatchEvent(new StreamResetEvent(new StreamResetByPeerError(errorCode)))
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
  abortUnseen (err: Error): void {
    this.unseenByPeer = true
    this.abort(err)
  }

  /** Data leaves the read buffer only when it is handed to the application: that is consumption */
  protected dispatchReadBuffer (): void {
    const before = this.readBuffer.byteLength
    super.dispatchReadBuffer()
    const consumed = before - this.readBuffer.byteLength
    if (consumed > 0) { this.grant(this.receiveWindow.consume(consumed)) }
  }

  private grant (increment: number): void {
    if (increment > 0 && this.session.open && this.status === 'open') {
      this.enqueue(encodeWndinc(this.streamId, increment))
    }
  }
}
