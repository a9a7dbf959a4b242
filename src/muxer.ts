import { ConnectionClosedError, MuxerClosedError, TooManyOutboundProtocolStreamsError } from '@libp2p/interface'
import { AbstractStreamMuxer } from '@libp2p/utils'
import { Budget } from './budget.ts'
import { resolveConfig } from './config.ts'
import { ProtocolViolationError, RemoteGoAwayError, StreamChurnLimitError, StreamIdsExhaustedError, TooManyUselessFramesError, UnexpectedEOFError, WriteTimeoutError, goawayCode } from './errors.ts'
import { Heartbeat, answerHeartbeats } from './heartbeat.ts'
import { LateFrames } from './late-frames.ts'
import { ErrorCode, FIRST_CLIENT_STREAM_ID, FIRST_SERVER_STREAM_ID, Flag, HEARTBEAT_STREAM_TYPE, MAX_UINT31, MIN_EXTENSION_TYPE, errorCodeName } from './protocol/constants.ts'
import { FrameDecoder } from './protocol/decode.ts'
import { encodeDataHeader, encodeGoaway, encodeRst, splitIntoFrames } from './protocol/encode.ts'
import { ReceiveBudget } from './receive-budget.ts'
import { RttEstimator } from './rtt.ts'
import { MuxadoStream, abortUnseen, deliverPending, receiveData, receiveReset, receiveWindowIncrement, resumeAfterDrain } from './stream.ts'
import { profileTransport } from './transport.ts'
import { ConnectionWriter, MAX_BATCH_BYTES } from './writer.ts'
import { runInMicrotask, yieldToEventLoop } from './yield.ts'
import type { MuxadoConfig, MuxadoInit } from './config.ts'
import type { WindowTuning } from './flow.ts'
import type { FrameHandler } from './protocol/decode.ts'
import type { StreamSession } from './stream.ts'
import type { AbortOptions, CreateStreamOptions, Logger, MessageStream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

export const PROTOCOL = '/muxado/1.0.0'

export type Role = 'client' | 'server'

export interface MuxadoCreateStreamOptions extends CreateStreamOptions {
  /** an opaque u32 sent in the SYN (Go's `StreamType()`); below 0xFFFFFEFF, which extensions own */
  streamType?: number
}

/**
 * One muxado session over one connection. The outbound (dialing) side is the client and opens
 * odd stream ids from 3; the inbound side is the server and opens even ids from 2.
 */
export class MuxadoMuxer extends AbstractStreamMuxer<MuxadoStream> {
  readonly role: Role
  private readonly config: MuxadoConfig
  private readonly decoder = new FrameDecoder()
  private readonly frameHandler: FrameHandler
  private readonly streamsById = new Map<number, MuxadoStream>()
  private readonly writer: ConnectionWriter
  /** streams the connection refused data, in the order they started waiting for its 'drain' */
  private readonly waitingForDrain = new Set<MuxadoStream>()
  /** the session's own streams (heartbeats): never FINed or RST, ended locally with the session */
  private readonly hiddenStreams = new Set<MuxadoStream>()
  private decodeScheduled = false
  /** streams waiting for the connection resume in a later task */
  private resumeScheduled = false
  /** counts the runs of `resumeWaitingStreams`: a writer woken in the current one is not stopped again before it writes */
  private wakeTurn = 0
  /** streams holding full DATA frames of the chunk being decoded, handed over once it is done */
  private readonly streamsWithPending = new Set<MuxadoStream>()
  private finishScheduled = false
  /** what every stream may ask of this session; streams get it, applications never see it */
  private readonly streamSession: StreamSession
  /** the same for the session's own streams (heartbeats), whose frames go ahead of the others' */
  private readonly urgentStreamSession: StreamSession
  private nextLocalId: number
  /** the highest id the peer has opened; 1 on a server and 0 on a client until then, as in Go */
  private lastRemoteId: number
  private inboundStreams = 0
  private outboundStreams = 0
  private goawaySent = false
  private remoteGoaway?: RemoteGoAwayError
  private readonly heartbeat?: Heartbeat
  private readonly rttEstimator = new RttEstimator()
  /** how the streams' receive windows grow: the session's RTT and its receive budget */
  private readonly windowTuning: WindowTuning
  private answeringHeartbeats = false
  private readonly uselessFrames: Budget
  private readonly streamResets: Budget
  private readonly lateFrames: LateFrames

  constructor (maConn: MessageStream, init: MuxadoInit = {}) {
    const config = resolveConfig(init)
    // libp2p attaches its 'stream' listener only after an async step of the upgrade, and one
    // batch from the peer can carry many SYNs: let every stream the peer may open wait for it
    super(maConn, { ...init, maxEarlyStreams: init.maxEarlyStreams ?? config.maxInboundStreams, protocol: PROTOCOL, name: 'muxado' })
    this.config = config
    this.role = maConn.direction === 'outbound' ? 'client' : 'server'
    this.nextLocalId = this.role === 'client' ? FIRST_CLIENT_STREAM_ID : FIRST_SERVER_STREAM_ID
    this.lastRemoteId = this.role === 'client' ? FIRST_SERVER_STREAM_ID - 2 : FIRST_CLIENT_STREAM_ID - 2
    this.frameHandler = {
      onSyn: (id, flags, priority, type) => { this.onSyn(id, flags, type) },
      onData: (id, flags, payload) => { this.onDataFrame(id, flags, payload) },
      onRst: (id, code) => { this.onRstFrame(id, code) },
      onWndinc: (id, increment) => { this.onWndincFrame(id, increment) },
      onGoaway: (lastId, code) => { this.onGoaway(lastId, code) }
    }
    this.uselessFrames = new Budget(config.maxUselessFrames, config.maxUselessFrames / 10)
    this.streamResets = new Budget(config.maxStreamResets, config.maxStreamResetsPerSecond)
    // every stream both sides may have open, closing at once, twice over
    this.lateFrames = new LateFrames(2 * (config.maxInboundStreams + config.maxOutboundStreams))
    this.writer = new ConnectionWriter({
      send: (data) => this.send(data),
      transport: profileTransport(maConn),
      onStall: () => { this.abort(new WriteTimeoutError(`The connection accepted no data for ${config.writeTimeout} ms`)) },
      writeTimeout: config.writeTimeout,
      log: this.log
    })
    maConn.addEventListener('drain', () => {
      this.writer.onDrain()
      if (!this.resumeScheduled) { this.resumeWaitingStreams() }
    })
    this.streamSession = {
      enqueue: (bytes) => { this.writer.enqueue(bytes) },
      enqueueData: (streamId, data, bytes) => { this.writer.enqueueData(streamId, data, bytes) },
      isWritable: () => !this.maConn.writableNeedsDrain,
      waitForDrain: (stream) => { this.waitingForDrain.add(stream) },
      wakeTurn: () => this.wakeTurn,
      isOpen: () => this.status === 'open',
      chargeStreamReset: () => this.chargeStreamReset(),
      streamClosed: (stream) => { this.forgetStream(stream) }
    }
    // a heartbeat is a few bytes that must not wait behind the streams' data
    this.urgentStreamSession = {
      ...this.streamSession,
      enqueue: (bytes) => { this.writer.enqueueUrgent(bytes) },
      enqueueData: (streamId, data, bytes) => {
        splitIntoFrames(data, bytes, (length) => { this.writer.enqueueUrgent(encodeDataHeader(streamId, length, false)) }, (view) => { this.writer.enqueueUrgent(view) })
      },
      isWritable: () => true
    }
    this.windowTuning = { rtt: this.rttEstimator, budget: new ReceiveBudget(config.sessionReceiveBudget), now: () => performance.now() }
    if (config.enableHeartbeat) {
      const stream = this.addStream(this.allocateStreamId(), HEARTBEAT_STREAM_TYPE, 'outbound', {}, true)
      const options = { interval: config.heartbeatInterval, timeout: config.heartbeatTimeout }
      this.heartbeat = new Heartbeat(stream, options, this.rttEstimator, (err) => { this.abort(err) })
    }
  }

  /**
   * ms of the path's round trip: the smallest heartbeat round trip or grant-to-data delay of the
   * session (queueing only ever adds to a sample); undefined until one is taken
   */
  get rtt (): number | undefined {
    return this.rttEstimator.min
  }

  // ---- libp2p muxer API

  /** The peer's GOAWAY once one arrived: no new streams, and ours it never saw were closed */
  get remoteGoAway (): RemoteGoAwayError | undefined {
    return this.remoteGoaway
  }

  /**
   * Open a stream. `options.streamType` (not a libp2p option) sends an opaque u32 type in the
   * SYN, read by Go's `StreamType()`; 0 or absent opens an untyped stream as Go's `Open()`.
   */
  async createStream (options?: MuxadoCreateStreamOptions): Promise<MuxadoStream> {
    return super.createStream(options)
  }

  onCreateStream (options: MuxadoCreateStreamOptions): MuxadoStream {
    const streamType = options.streamType ?? 0
    if (!Number.isInteger(streamType) || streamType < 0 || streamType >= MIN_EXTENSION_TYPE) {
      throw new RangeError(`muxado: streamType must be an integer from 0 to ${MIN_EXTENSION_TYPE - 1}, got ${streamType}`)
    }
    if (this.remoteGoaway != null) { throw this.remoteGoaway }
    if (this.goawaySent) { throw new MuxerClosedError('The muxado session sent GOAWAY') }
    if (this.outboundStreams >= this.config.maxOutboundStreams) {
      throw new TooManyOutboundProtocolStreamsError(`Too many outbound streams open - ${this.outboundStreams}/${this.config.maxOutboundStreams}`)
    }
    return this.addStream(this.allocateStreamId(), streamType, 'outbound', options)
  }

  private allocateStreamId (): number {
    if (this.nextLocalId > MAX_UINT31) { throw new StreamIdsExhaustedError('All 31-bit stream ids of this side are used') }
    const streamId = this.nextLocalId
    this.nextLocalId += 2
    return streamId
  }

  onData (data: Uint8Array | Uint8ArrayList): void {
    this.heartbeat?.heard()
    this.decoder.push(data)
    if (!this.decodeScheduled) { this.decodeFrames() }
  }

  async close (options?: AbortOptions): Promise<void> {
    if (this.status !== 'open') { return }
    this.stopTimers()
    await super.close(options)
    this.sendGoaway(ErrorCode.NoError)
    this.releaseHiddenStreams()
    await this.maConn.close(options)
  }

  abort (err: Error): void {
    if (this.status === 'closed') { return }
    // full frames that arrived before whatever went wrong were valid: readers get them first
    this.handOverPending()
    // streams skip their RSTs once the session is not open: the GOAWAY says it all
    this.status = 'closing'
    this.stopTimers()
    this.sendGoaway(goawayCode(err))
    super.abort(err)
    this.releaseHiddenStreams(err)
    if (err instanceof WriteTimeoutError) {
      // the peer reads nothing: a graceful close would wait for it forever
      this.maConn.abort(err)
    } else {
      this.maConn.close({ signal: AbortSignal.timeout(this.config.writeTimeout) }).catch(closeErr => {
        this.log.error('closing the connection after abort failed - %e', closeErr)
        this.maConn.abort(closeErr)
      })
    }
  }

  onTransportClosed (err?: Error): void {
    this.stopTimers()
    // full frames held for a frame that will not complete now
    this.handOverPending()
    if (err == null && this.status === 'open') {
      // the connection ended under an open session: a stream whose peer never sent FIN may be
      // missing data, and its reader must not mistake that for a clean end
      this.status = 'closing'
      const cut = this.decoder.midFrame
        ? new UnexpectedEOFError('The connection ended in the middle of a frame')
        : new ConnectionClosedError('The connection closed before the peer finished the stream')
      for (const stream of [...this.streams]) {
        if (stream.remoteWriteStatus !== 'closed') {
          stream.onTransportClosed(cut)
        }
      }
    }
    super.onTransportClosed(err)
    this.releaseHiddenStreams(err)
  }

  /** End the hidden streams locally once the session is no longer open: nothing goes on the wire */
  private releaseHiddenStreams (err?: Error): void {
    for (const stream of [...this.hiddenStreams]) {
      stream.onTransportClosed(err)
    }
  }

  private stopTimers (): void {
    this.heartbeat?.stop()
    this.writer.stop()
  }

  /**
   * The connection drained: waiting streams take turns, each sending until the connection refuses
   * again (it then waits at the back), so none waits behind a busy one. A stream with nothing
   * queued tells its writer to write, which happens a few microtasks later: once the writers
   * woken are likely to fill a batch, the rest wait for the next task, holding nothing, rather
   * than all being woken to write into a connection that is full by then.
   */
  private readonly resumeWaitingStreams = (): void => {
    this.resumeScheduled = false
    this.wakeTurn++
    let turns = this.waitingForDrain.size
    let expected = 0
    for (const stream of this.waitingForDrain) {
      if (turns-- === 0 || this.maConn.writableNeedsDrain) { return }
      if (expected >= MAX_BATCH_BYTES) {
        this.resumeScheduled = true
        yieldToEventLoop(this.resumeWaitingStreams)
        return
      }
      this.waitingForDrain.delete(stream)
      expected += stream[resumeAfterDrain]()
    }
  }

  // ---- wire → streams

  /** Spend the churn budget for a stream reset the peer caused; false once the session is aborted */
  private chargeStreamReset (): boolean {
    if (this.streamResets.spend()) {
      return true
    }
    this.abort(new StreamChurnLimitError(`More than ${this.config.maxStreamResets} stream resets in a burst, or over ${this.config.maxStreamResetsPerSecond}/s`))
    return false
  }

  private readonly decodeFrames = (): void => {
    this.decodeScheduled = false
    // a closing session still needs the peer's frames: its WNDINCs let pending data out
    if (this.status === 'closed') { return }
    this.writer.whileDispatching(this.decodeBuffered)
  }

  private readonly decodeBuffered = (): void => {
    try {
      const handled = this.decoder.decode(this.frameHandler, this.config.maxFramesPerTurn)
      this.finishChunkLater()
      if (handled === this.config.maxFramesPerTurn && this.decoder.bufferedBytes > 0) {
        this.decodeScheduled = true
        yieldToEventLoop(this.decodeFrames)
      }
    } catch (err: any) {
      this.log.error('peer broke the protocol - %e', err)
      this.abort(err)
    }
  }

  /**
   * Streams holding full DATA frames hand them over once this turn's chunks are decoded: a
   * connection may hand a batch over piece by piece (headers and payloads as they were sent), and
   * a write's frames should still reach the reader as one message
   */
  private finishChunkLater (): void {
    if (this.finishScheduled || this.streamsWithPending.size === 0) { return }
    this.finishScheduled = true
    runInMicrotask(this.finishChunk)
  }

  /**
   * The chunks are decoded. A stream whose next frame is part-way in keeps its full frames for
   * it: the rest is on its way, and a read that ends inside a write (most 64 KiB reads do) would
   * otherwise split the write into two messages. That holds back at most one frame's worth.
   */
  private readonly finishChunk = (): void => {
    this.finishScheduled = false
    this.writer.whileDispatching(this.handOverAllButArriving)
  }

  private readonly handOverAllButArriving = (): void => {
    this.handOverPending(this.decoder.dataArrivingFor)
  }

  /** Streams holding full DATA frames hand them to their readers, except stream `keepFor` */
  private handOverPending (keepFor = 0): void {
    for (const stream of this.streamsWithPending) {
      if (stream.streamId !== keepFor) {
        this.streamsWithPending.delete(stream)
        stream[deliverPending]()
      }
    }
  }

  private onSyn (streamId: number, flags: number, streamType: number): void {
    if (this.isLocalId(streamId) || streamId <= this.lastRemoteId) {
      throw new ProtocolViolationError(`SYN for stream ${streamId}, but the last remote id is ${this.lastRemoteId} and remote ids are ${this.role === 'client' ? 'even' : 'odd'}`)
    }
    this.lastRemoteId = streamId
    if ((flags & Flag.FIN) !== 0) {
      // Go inverts SYN|FIN: more DATA may follow, so the FIN is not trusted
      this.log('ignoring FIN on SYN for stream %d', streamId)
    }
    if (this.status !== 'open' || this.inboundStreams >= this.config.maxInboundStreams) {
      this.writer.enqueue(encodeRst(streamId, ErrorCode.RefusedStream))
      return
    }
    if (streamType === HEARTBEAT_STREAM_TYPE && !this.answeringHeartbeats) {
      this.answeringHeartbeats = true
      answerHeartbeats(this.addStream(streamId, streamType, 'inbound', {}, true))
      return
    }
    if (streamType >= MIN_EXTENSION_TYPE) {
      // an extension we do not run, or a second heartbeat stream: refuse it as Go does for
      // unknown extensions, without keeping the stream (docs/protocol.md B9, B10)
      this.writer.enqueue(encodeRst(streamId, ErrorCode.StreamClosed))
      return
    }
    this.onRemoteStream(this.addStream(streamId, streamType, 'inbound', {}))
  }

  private onDataFrame (streamId: number, flags: number, payload: Uint8Array | Uint8ArrayList): void {
    const fin = (flags & Flag.FIN) !== 0
    const stream = this.openStream(streamId)
    if (stream != null) {
      if (fin || payload.byteLength > 0) {
        if (stream[receiveData](payload, fin)) { this.streamsWithPending.add(stream) }
      } else {
        this.countUselessFrame()
      }
    } else if (payload.byteLength > 0) {
      this.countUselessFrame()
      // a stream that is gone: Go answers the same way
      if (this.lateFrames.answerLateData(streamId)) {
        this.writer.enqueue(encodeRst(streamId, ErrorCode.StreamClosed))
      }
    } else if (!fin || !this.lateFrames.expectFin(streamId)) {
      this.countUselessFrame()
    }
  }

  private onRstFrame (streamId: number, errorCode: number): void {
    const stream = this.openStream(streamId)
    if (stream != null) {
      if (this.chargeStreamReset()) { stream[receiveReset](errorCode) }
    } else if (!this.lateFrames.expectRst(streamId, errorCode)) {
      this.countUselessFrame()
    }
  }

  private onWndincFrame (streamId: number, increment: number): void {
    const stream = this.openStream(streamId)
    if (stream != null && increment > 0) {
      stream[receiveWindowIncrement](increment)
    } else if (stream != null || !this.lateFrames.expectWndinc(streamId, increment)) {
      // Go never sends an increment of 0
      this.countUselessFrame()
    }
  }

  private onGoaway (lastStreamId: number, errorCode: number): void {
    this.log('peer sent GOAWAY last id %d code %s', lastStreamId, errorCodeName(errorCode))
    this.remoteGoaway = new RemoteGoAwayError(`The peer sent GOAWAY (${errorCodeName(errorCode)}, last stream ${lastStreamId})`, errorCode)
    for (const stream of [...this.streamsById.values()]) {
      if (this.isLocalId(stream.streamId) && stream.streamId > lastStreamId) { stream[abortUnseen](this.remoteGoaway) }
    }
  }

  /**
   * The open stream a frame is for, or undefined for a stream that is closed. An id that was
   * never assigned is a protocol violation, as in Go for ids above the last one of their parity
   * (session.go:411-413). Go tolerates stream frames on id 0 but never sends them, so we do not.
   */
  private openStream (streamId: number): MuxadoStream | undefined {
    const lastAssigned = this.isLocalId(streamId) ? this.nextLocalId - 2 : this.lastRemoteId
    if (streamId === 0 || streamId > lastAssigned) {
      throw new ProtocolViolationError(`Frame for stream ${streamId}, which was never opened`)
    }
    return this.streamsById.get(streamId)
  }

  /** Frames that make us do work for nothing are budgeted, as Node's http2 maxSessionInvalidFrames */
  private countUselessFrame (): void {
    if (!this.uselessFrames.spend()) {
      throw new TooManyUselessFramesError(`More than ${this.config.maxUselessFrames} frames that do nothing`)
    }
  }

  private isLocalId (streamId: number): boolean {
    return (streamId % 2 === 1) === (this.role === 'client')
  }

  /**
   * A stream's logger: scoped to the stream while the session's logger is on, else the session's
   * own. Each `newScope` makes debug loggers that ask the OS whether stderr is a terminal (weald's
   * `useColors`, a system call each): with logging off, that was a fifth of the time opening a
   * stream took (docs/upstream-bugs.md)
   */
  private streamLog (direction: 'inbound' | 'outbound', streamId: number): Logger {
    return this.log.enabled ? this.log.newScope(`${direction}:${streamId}`) : this.log
  }

  /** `hidden` streams belong to the session (heartbeats): libp2p never sees them and no limit counts them */
  private addStream (streamId: number, streamType: number, direction: 'inbound' | 'outbound', options: CreateStreamOptions, hidden = false): MuxadoStream {
    const streamOptions = { ...this.streamOptions, ...options }
    const stream = new MuxadoStream({
      ...streamOptions,
      id: String(streamId),
      streamId,
      streamType,
      direction,
      // libp2p negotiates the stream's protocol only when this is empty
      protocol: '',
      log: this.streamLog(direction, streamId),
      // libp2p's default is unbounded
      maxWriteBufferLength: streamOptions.maxWriteBufferLength ?? this.config.maxWriteBufferLength,
      // the window already bounds what a paused reader holds; libp2p's 4 MiB default would reset
      // a paused stream whose window grew past it, and a smaller limit caps the window instead
      maxReadBufferLength: streamOptions.maxReadBufferLength ?? this.config.maxStreamWindow,
      // the session's own streams carry a few bytes each way: they go first, and never grow
      session: hidden ? this.urgentStreamSession : this.streamSession,
      maxStreamWindow: Math.min(this.config.maxStreamWindow, streamOptions.maxReadBufferLength ?? Infinity),
      tuning: hidden ? undefined : this.windowTuning
    })
    this.streamsById.set(streamId, stream)
    this.track(stream, direction, hidden, 1)
    return stream
  }

  /** A stream closed (`StreamSession.streamClosed`): its id now only expects late frames */
  private forgetStream (stream: MuxadoStream): void {
    const streamId = stream.streamId
    if (this.streamsById.get(streamId) !== stream) { return }
    this.streamsById.delete(streamId)
    this.waitingForDrain.delete(stream)
    this.lateFrames.streamClosed(streamId, { ungrantedBytes: stream.ungrantedBytes, peerFinished: stream.remoteWriteStatus === 'closed' })
    this.track(stream, stream.direction, this.hiddenStreams.has(stream), -1)
  }

  /** Hidden streams are released with the session; the others count against the stream limits */
  private track (stream: MuxadoStream, direction: 'inbound' | 'outbound', hidden: boolean, delta: 1 | -1): void {
    if (hidden) {
      if (delta > 0) { this.hiddenStreams.add(stream) } else { this.hiddenStreams.delete(stream) }
    } else if (direction === 'inbound') {
      this.inboundStreams += delta
    } else {
      this.outboundStreams += delta
    }
  }

  // ---- session end

  /** GOAWAY goes out at once, after anything already queued, and only once per session */
  private sendGoaway (errorCode: ErrorCode): void {
    if (this.goawaySent) { return }
    this.goawaySent = true
    this.writer.enqueue(encodeGoaway(this.lastRemoteId, errorCode))
    this.writer.flush()
    this.writer.end()
  }
}
