import { multiaddrConnectionPair } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { pEvent } from 'p-event'
import { muxado } from '../../src/index.ts'
import { FrameDecoder, encodeWndinc } from '../../src/protocol/index.ts'
import { receiveWindowIncrement } from '../../src/stream.ts'
import { concatBytes } from './bytes.ts'
import { describeFrame, recordFrames } from './frames.ts'
import type { WireFrame } from './frames.ts'
import type { MuxadoInit, MuxadoMuxer, MuxadoStream } from '../../src/index.ts'
import type { FrameType } from '../../src/protocol/index.ts'
import type { MultiaddrConnection } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

export type MuxerRole = 'client' | 'server'

const SERVER_ADDR = multiaddr('/ip4/127.0.0.1/tcp/4001')
const CLIENT_ADDR = multiaddr('/ip4/127.0.0.1/tcp/4002')

/**
 * A fake muxado peer: it writes hand-built frames (or raw bytes) into a real `MuxadoMuxer` over an
 * in-memory connection, and records every frame the muxer sends back, plus every connection write.
 */
export class RawPeer {
  readonly muxer: MuxadoMuxer
  readonly frames: WireFrame[] = []
  /** how many `send()` calls the muxer made on its connection */
  writes = 0
  /** how many of them handed over one contiguous buffer rather than a list */
  contiguousWrites = 0
  /** bytes the muxer handed to its connection */
  sentBytes = 0
  /** every error the muxer was aborted with, in order (the first one ended the session) */
  readonly abortErrors: Error[] = []
  /** set if the muxer sent bytes that do not decode as muxado v1 frames */
  recordError?: Error
  /**
   * Frames the muxer handed to its connection, whether or not they reached the peer (a GOAWAY
   * sent "best effort" into a connection the peer stopped reading shows up here, not in `frames`)
   */
  readonly handedFrames: WireFrame[] = []
  /** set if the bytes the muxer handed to its connection do not decode */
  handedError?: Error
  readonly connection: MultiaddrConnection
  /** the muxer's end of the connection */
  readonly muxerConnection: MultiaddrConnection
  private readonly decoder = new FrameDecoder()
  private readonly handedDecoder = new FrameDecoder()

  constructor (role: MuxerRole, init: MuxadoInit = {}) {
    // fixed addresses: the default ones use a per-process counter as a TCP port, which runs out
    // after 32768 pairs (the fuzzer makes a million)
    const [outbound, inbound] = multiaddrConnectionPair({ outbound: { remoteAddr: SERVER_ADDR }, inbound: { remoteAddr: CLIENT_ADDR } })
    const [mine, theirs] = role === 'client' ? [outbound, inbound] : [inbound, outbound]
    this.connection = theirs
    this.muxerConnection = mine
    const send = mine.send.bind(mine)
    mine.send = (data) => {
      this.writes++
      if (data instanceof Uint8Array) { this.contiguousWrites++ }
      this.sentBytes += data.byteLength
      if (this.handedError == null) {
        try {
          this.handedDecoder.push(data)
          this.handedDecoder.decode(recordFrames(this.handedFrames))
        } catch (err: any) {
          this.handedError = err
        }
      }
      return send(data)
    }
    this.muxer = muxado({ enableHeartbeat: false, ...init })().createStreamMuxer(mine)
    const abort = this.muxer.abort.bind(this.muxer)
    this.muxer.abort = (err) => { this.abortErrors.push(err); abort(err) }
    theirs.addEventListener('message', (evt) => { this.record(evt.data) })
  }

  /** The error that ended the session, if the muxer aborted */
  get sessionError (): Error | undefined {
    return this.abortErrors[0]
  }

  /**
   * Stop reading from the connection, like a peer whose TCP receive window is 0: the muxer's
   * writes queue in the connection until `send()` returns false. Takes effect after a tick.
   */
  stopReading (): void {
    this.connection.pause()
  }

  resumeReading (): void {
    this.connection.resume()
  }

  /** Write raw bytes to the muxer */
  send (...chunks: Uint8Array[]): void {
    for (const chunk of chunks) { this.connection.send(chunk) }
  }

  /** Frames of one type, optionally for one stream */
  framesOf (type: FrameType, streamId?: number): WireFrame[] {
    return this.frames.filter(f => f.type === type && (streamId == null || f.streamId === streamId))
  }

  /** Resolve with the first recorded frame matching `match`, waiting for it if needed */
  async waitForFrame (match: (frame: WireFrame) => boolean, timeoutMs = 2000): Promise<WireFrame> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.frames.find(match)
      if (found != null) { return found }
      if (Date.now() > deadline) { throw new Error(`no matching frame within ${timeoutMs} ms; saw ${JSON.stringify(this.frames.map(describeFrame))}`) }
      await new Promise(resolve => setTimeout(resolve, 5))
    }
  }

  /** Let queued microtasks and the muxer's flush run */
  async settle (ms = 10): Promise<void> {
    await new Promise(resolve => setTimeout(resolve, ms))
  }

  async nextStream (): Promise<MuxadoStream> {
    const evt = await pEvent<'stream', CustomEvent<MuxadoStream>>(this.muxer, 'stream')
    return evt.detail
  }

  private record (data: Uint8Array | Uint8ArrayList): void {
    if (this.recordError != null) { return }
    this.decoder.push(data)
    try {
      this.decodeRecorded()
    } catch (err: any) {
      this.recordError = err
    }
  }

  private decodeRecorded (): void {
    this.decoder.decode(recordFrames(this.frames))
  }
}

/**
 * `count` WNDINC +1 frames for `stream` in one chunk, and how many of them the stream has handled
 * so far: for watching the muxer pace a chunk packed with frames
 */
export function wndincFlood (stream: MuxadoStream, count: number): { chunk: Uint8Array, handled(): number } {
  let handled = 0
  const onWindowIncrement = stream[receiveWindowIncrement].bind(stream)
  stream[receiveWindowIncrement] = (increment) => { handled++; onWindowIncrement(increment) }
  return {
    chunk: concatBytes(Array.from({ length: count }, () => encodeWndinc(stream.streamId, 1))),
    handled: () => handled
  }
}
