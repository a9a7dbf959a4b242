import { Uint8ArrayList } from 'uint8arraylist'
import { allocUnsafe } from 'uint8arrays/alloc'
import { FrameType, HEADER_LENGTH } from './protocol/constants.ts'
import { encodeDataHeader, reserveDataFrame, splitIntoFrames, writeHeader } from './protocol/encode.ts'
import { runInMicrotask } from './yield.ts'
import type { TransportProfile } from './transport.ts'
import type { Logger } from '@libp2p/interface'

/** Frames queued in one event-loop turn are sent together, up to this many bytes */
export const MAX_BATCH_BYTES = 256 * 1024

/** A batch closes once it reaches MAX_BATCH_BYTES, so it is at most that plus one frame */
const SCRATCH_SIZE = MAX_BATCH_BYTES + 64 * 1024

/**
 * A DATA payload this short is copied in after its header when the batch goes to the connection
 * as views: a piece more costs the connection more than that copy (the 4-byte last frame of a
 * 64 KiB write, small messages). A batch copied into fresh memory copies it there anyway.
 */
const COPIED_PAYLOAD_MAX = 1024

/**
 * Scratch buffers per session: a socket often still holds the last batch or two when the next
 * is made; while it holds more, batches go to fresh memory
 */
const MAX_SCRATCH_BUFFERS = 4

const SLAB_SIZE = 1024 * 1024
// never zero-filled: every byte handed out is written first. Made on first use: sessions that
// reuse scratch buffers or send views never need it
let slab: Uint8Array | undefined
let slabUsed = 0

/** A region for one batch: cut from a shared slab that is never reused, only replaced */
function takeFreshMemory (length: number): Uint8Array {
  if (length > SLAB_SIZE / 2) {
    return allocUnsafe(length)
  }
  if (slab == null || slabUsed + length > SLAB_SIZE) {
    slab = allocUnsafe(SLAB_SIZE)
    slabUsed = 0
  }
  const view = slab.subarray(slabUsed, slabUsed + length)
  slabUsed += length
  return view
}

export interface ConnectionWriterInit {
  /** hand bytes to the connection; false when it wants no more for now */
  send(data: Uint8Array | Uint8ArrayList): boolean
  /** how batches go to this connection: as views, or copied, and when a copy's buffer is free again */
  transport: TransportProfile
  /** the connection accepted nothing for `writeTimeout` ms: the peer stopped reading */
  onStall(): void
  writeTimeout: number
  log: Logger
}

/**
 * The session's write path. Frames queued during one event-loop turn go to the connection in
 * one `send()`, flushed from a microtask so latency does not suffer, or, for frames queued while
 * the session dispatches what it received (`whileDispatching`), as soon as that returns. A muxado
 * frame carries at most 16383 bytes, so a 64 KiB write is ten pieces, headers and payloads. A
 * connection that writes each piece separately (TCP, Noise) gets the batch in one buffer, which
 * costs less than a write per piece; others get the pieces as they are (`TransportProfile` says
 * which), except that a short frame's payload is copied in after its header.
 *
 * Where a buffer can be reused (`finishedWithSent`), frames are written straight into one of a
 * few scratch buffers as they are queued, each free again once the connection proves it holds
 * nothing; else (or while it holds them all) a batch is gathered as views and copied into fresh
 * memory of its exact size. Past 256 KiB the batch goes out at once, so the connection's
 * backpressure reaches the streams within the turn.
 */
export class ConnectionWriter {
  private readonly init: ConnectionWriterInit
  private readonly views: Uint8Array[] = []
  /** the last of `views` when it is a cut of the encoder's slab, which the next cut may continue */
  private mergeableTail?: Uint8Array
  /** the scratch buffer frames are written into, when the connection lets buffers be reused */
  private batch?: Uint8Array
  /** heartbeat frames: they go out ahead of the batch so a ping does not wait behind DATA */
  private urgent: Uint8Array[] = []
  /** bytes queued for the next send, as views or in `batch` */
  private bytes = 0
  /**
   * the stream whose data `enqueueData` is splitting into frames: a field, so the framing
   * callbacks are bound once and no closure is made per write
   */
  private framingStream = 0
  /** a short frame gathered as views, its payload being copied in after the header, and how far */
  private frameBeingFilled?: Uint8Array
  private frameFilled = 0
  private flushScheduled = false
  /** inside `whileDispatching`: a flush waits for its end instead of a microtask */
  private dispatching = false
  private stallTimer?: ReturnType<typeof setTimeout>
  private ended = false
  /** the session's scratch buffers, allocated as needed up to MAX_SCRATCH_BUFFERS */
  private readonly scratch: Uint8Array[] = []
  /** how many of `scratch`, from the first, are handed to the connection, which may still hold them */
  private scratchHeld = 0
  /** inside `send()`: what the connection reports then is about the batch it is taking */
  private sending = false

  constructor (init: ConnectionWriterInit) {
    this.init = init
  }

  /** Queue a frame, or a piece of one no longer than a frame; as views, frames cut back to back from the encoder's slab merge */
  enqueue (bytes: Uint8Array): void {
    const batch = this.batchWithRoom(bytes.byteLength)
    if (batch == null) {
      this.push(bytes)
    } else {
      batch.set(bytes, this.bytes)
      this.bytes += bytes.byteLength
    }
    this.batchQueued()
  }

  /** Queue the first `bytes` bytes of `data` as DATA frames of `streamId` */
  enqueueData (streamId: number, data: Uint8Array | Uint8ArrayList, bytes: number): void {
    this.framingStream = streamId
    splitIntoFrames(data, bytes, this.queueDataHeader, this.queuePayload)
    this.batchQueued()
  }

  private readonly queueDataHeader = (length: number): void => {
    if (this.bytes >= MAX_BATCH_BYTES) { this.flush() }
    // room for the whole frame, so its payload pieces follow the header in the same buffer
    const batch = this.batchWithRoom(HEADER_LENGTH + length)
    if (batch == null) {
      if (length <= COPIED_PAYLOAD_MAX && this.init.transport.sendsViews) {
        this.frameBeingFilled = reserveDataFrame(this.framingStream, length)
        this.frameFilled = HEADER_LENGTH
        this.push(this.frameBeingFilled)
      } else {
        this.push(encodeDataHeader(this.framingStream, length, false))
      }
      return
    }
    writeHeader(batch, this.bytes, FrameType.DATA, 0, this.framingStream, length)
    this.bytes += HEADER_LENGTH
  }

  /** A payload piece: it follows its header, so unlike a control frame it never merges with the view before it */
  private readonly queuePayload = (view: Uint8Array): void => {
    const frame = this.frameBeingFilled
    if (frame != null) {
      // its bytes were counted when the frame was queued
      frame.set(view, this.frameFilled)
      this.frameFilled += view.byteLength
      if (this.frameFilled === frame.byteLength) { this.frameBeingFilled = undefined }
      return
    }
    const batch = this.batchWithRoom(view.byteLength)
    if (batch == null) {
      this.views.push(view)
      this.mergeableTail = undefined
    } else {
      batch.set(view, this.bytes)
    }
    this.bytes += view.byteLength
  }

  /** Send a batch that reached MAX_BATCH_BYTES now, else once this turn's frames are queued */
  private batchQueued (): void {
    if (this.bytes >= MAX_BATCH_BYTES) {
      this.flush()
    } else if (this.bytes > 0) {
      this.scheduleFlush()
    }
  }

  private scheduleFlush (): void {
    if (this.flushScheduled) { return }
    this.flushScheduled = true
    if (!this.dispatching) { runInMicrotask(this.flush) }
  }

  /**
   * Run `dispatch` (the session handing incoming frames to streams and their listeners) and send
   * what it queued as soon as it returns: a reply written from a 'message' listener then leaves
   * without waiting for a microtask, in the same batch as the window updates the frames caused
   */
  whileDispatching (dispatch: () => void): void {
    if (this.dispatching) {
      dispatch()
      return
    }
    this.dispatching = true
    try {
      dispatch()
    } finally {
      this.dispatching = false
      if (this.flushScheduled) { this.flush() }
    }
  }

  /** Queue a frame ahead of everything `enqueue` queued in this turn */
  enqueueUrgent (bytes: Uint8Array): void {
    this.urgent.push(bytes)
    this.scheduleFlush()
  }

  /** Send everything queued now */
  readonly flush = (): void => {
    this.flushScheduled = false
    if (this.urgent.length > 0) {
      const urgent = this.urgent
      this.urgent = []
      if (this.batch == null) {
        for (const view of urgent) { this.bytes += view.byteLength }
        this.views.unshift(...urgent)
      } else {
        // the batch was written in place: the few urgent bytes go just before it
        this.sendNow(urgent.length === 1 ? urgent[0] : new Uint8ArrayList(...urgent))
      }
    }
    if (this.bytes > 0) {
      this.sendNow(this.take())
    }
  }

  private sendNow (data: Uint8Array | Uint8ArrayList): void {
    // a send may dispatch events whose handlers queue frames and flush again
    const nested = this.sending
    this.sending = true
    try {
      if (!this.init.send(data)) {
        this.watchStall()
      }
    } catch (err: any) {
      // the connection's write end closed under us: the session is ending and nobody will read these
      this.init.log('dropping %d bytes - %e', data.byteLength, err)
    } finally {
      this.sending = nested
    }
  }

  /** The connection accepts data again */
  onDrain (): void {
    this.stop()
  }

  stop (): void {
    clearTimeout(this.stallTimer)
    this.stallTimer = undefined
  }

  /** The session sent its GOAWAY: no stall matters any more, so none is watched */
  end (): void {
    this.ended = true
    this.stop()
  }

  private watchStall (): void {
    if (this.stallTimer != null || this.ended) {
      return
    }
    this.stallTimer = setTimeout(this.init.onStall, this.init.writeTimeout)
    this.stallTimer.unref?.()
  }

  /** Views back to back in one buffer (control frames cut from the encoder's slab) merge into one */
  private push (view: Uint8Array): void {
    if (view.byteLength === 0) {
      return
    }
    this.bytes += view.byteLength
    const tail = this.mergeableTail
    // offsets first: they rule out almost every pair without reading `buffer`
    if (tail != null && tail.byteOffset + tail.byteLength === view.byteOffset && tail.buffer === view.buffer) {
      this.mergeableTail = new Uint8Array(tail.buffer, tail.byteOffset, tail.byteLength + view.byteLength)
      this.views[this.views.length - 1] = this.mergeableTail
      return
    }
    this.views.push(view)
    this.mergeableTail = view
  }

  private take (): Uint8Array | Uint8ArrayList {
    const length = this.bytes
    this.bytes = 0
    if (this.batch != null) {
      const batch = this.batch.subarray(0, length)
      this.batch = undefined
      return batch
    }
    // the array is reused: what is sent holds the views, not the array
    const views = this.views
    this.mergeableTail = undefined
    let out: Uint8Array | Uint8ArrayList
    if (views.length === 1) {
      out = views[0]
    } else if (this.init.transport.sendsViews) {
      out = new Uint8ArrayList(...views)
    } else {
      out = takeFreshMemory(length)
      let offset = 0
      for (const view of views) {
        out.set(view, offset)
        offset += view.byteLength
      }
    }
    views.length = 0
    return out
  }

  /**
   * The scratch buffer the batch is written into, with room for `length` more bytes (what is
   * queued goes out first if it is short of room); undefined when the batch gathers views, which
   * it does for the whole batch when it starts with no scratch buffer free
   */
  private batchWithRoom (length: number): Uint8Array | undefined {
    if (this.batch != null && this.bytes + length > this.batch.byteLength) {
      this.sendNow(this.take())
    }
    if (this.batch == null && this.bytes === 0) {
      this.batch = this.freeScratch()
    }
    return this.batch
  }

  private freeScratch (): Uint8Array | undefined {
    const finishedWithSent = this.init.transport.finishedWithSent
    if (finishedWithSent == null) { return undefined }
    // a connection that holds nothing now has finished with every scratch buffer it was handed
    if (this.scratchHeld > 0 && !this.sending && finishedWithSent()) {
      this.scratchHeld = 0
    }
    if (this.scratchHeld === this.scratch.length) {
      if (this.scratch.length === MAX_SCRATCH_BUFFERS) { return undefined }
      this.scratch.push(allocUnsafe(SCRATCH_SIZE))
    }
    return this.scratch[this.scratchHeld++]
  }
}
