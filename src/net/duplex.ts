import { Duplex } from 'node:stream'
import { piecesOf } from '../protocol/pieces.ts'
import { SessionDestroyedError, StreamClosedError } from './errors.ts'
import type { MuxadoStream } from '../stream.ts'
import type { StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import type { AddressInfo } from 'node:net'
import type { Uint8ArrayList } from 'uint8arraylist'

/** Bytes handed to the muxado stream per `send()`: small enough never to trip its write-buffer cap */
const SEND_PIECE = 64 * 1024

export interface MuxadoDuplexOptions {
  /** `highWaterMark` of both sides, in bytes (Node's default: 16 KiB) */
  highWaterMark?: number
  /** bytes buffered for the reader before the muxado stream is paused and the peer held at its window */
  readableHighWaterMark?: number
  /** bytes buffered for writing before `write()` returns false */
  writableHighWaterMark?: number
}

/** The socket the session runs over, for the address getters */
interface AddressSource {
  remoteAddress?: string
  remotePort?: number
  remoteFamily?: string
  localAddress?: string
  localPort?: number
  address?(): AddressInfo | Record<string, never> | string | null
}

function toBuffer (buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
}

/**
 * A muxado stream as a Node.js `stream.Duplex`, for `pipeline()`, `http` and anything else that
 * takes a socket.
 *
 * Reading: data is pushed as it arrives; when the readable buffer reaches its `highWaterMark`
 * the muxado stream is paused, so no window is granted back and the peer is held at the muxado
 * window (64 KiB, more once the stream's window has grown).
 *
 * Writing: each write is handed to the muxado stream, and its callback waits for the stream's
 * `'drain'` while the peer's window or the connection is full.
 *
 * `end()` sends FIN (the muxado half-close). `destroy(err)` resets the stream: RST with the
 * error's muxado code (Cancel for errors outside muxado's table), and the peer's reads and
 * writes fail. `destroy()` without an error is Go's `Close()`: FIN after the data the stream
 * already holds (unwritten data still in the Duplex's own buffer is dropped, as with sockets),
 * and whatever the peer still sends is discarded. Resets by the peer and lost connections
 * surface as `'error'`; a session destroyed without an error closes its streams quietly.
 *
 * The `net.Socket` methods that `http` calls (`setTimeout`, `setNoDelay`, `setKeepAlive`, `ref`,
 * `unref`, `destroySoon`) are here; `setTimeout` is a real idle timer.
 */
export class MuxadoDuplex extends Duplex {
  /** The libp2p stream underneath */
  readonly stream: MuxadoStream
  /** Always false: the stream is open when the Duplex exists (http checks this) */
  readonly connecting = false
  /** The idle timeout set by `setTimeout()`, in ms; 0 when off */
  timeout = 0
  private readonly transport?: AddressSource
  private idleTimer?: ReturnType<typeof setTimeout>
  private readEnded = false

  /**
   * @param stream - the muxado stream to wrap
   * @param options - buffer sizes
   * @param transport - the session's socket; the address getters read it
   */
  constructor (stream: MuxadoStream, options: MuxadoDuplexOptions = {}, transport?: object) {
    super({
      allowHalfOpen: true,
      highWaterMark: options.highWaterMark,
      readableHighWaterMark: options.readableHighWaterMark,
      writableHighWaterMark: options.writableHighWaterMark
    })
    this.stream = stream
    this.transport = transport as AddressSource | undefined
    stream.addEventListener('message', this.onMessage)
    stream.addEventListener('end', this.onEnd)
    stream.addEventListener('close', this.onClose)
    if (stream.status === 'aborted' || stream.status === 'reset') {
      process.nextTick(() => { this.destroy(new StreamClosedError(`Stream ${stream.streamId} was ${stream.status} before it was used`)) })
    } else if (stream.readableEnded) {
      this.onEnd()
    }
  }

  /** The muxado stream id: odd for streams the client opened, even for the server's */
  get id (): number {
    return this.stream.streamId
  }

  /** The opaque 32-bit type from the stream's SYN; 0 for an untyped stream */
  get streamType (): number {
    return this.stream.streamType
  }

  /** The session socket's peer address (http reads it as `req.socket.remoteAddress`); the same for every stream of a session */
  get remoteAddress (): string | undefined { return this.transport?.remoteAddress }
  get remotePort (): number | undefined { return this.transport?.remotePort }
  get remoteFamily (): string | undefined { return this.transport?.remoteFamily }
  get localAddress (): string | undefined { return this.transport?.localAddress }
  get localPort (): number | undefined { return this.transport?.localPort }

  /** The address of the session's socket, as `net.Socket.address()` */
  address (): AddressInfo | Record<string, never> | string | null {
    return this.transport?.address?.() ?? {}
  }

  // ---- muxado → reader

  private readonly onMessage = (evt: StreamMessageEvent): void => {
    if (this.destroyed || this.readEnded) { return }
    this.touch()
    let more = true
    const data: Uint8Array | Uint8ArrayList = evt.data
    if (data instanceof Uint8Array) {
      more = this.push(toBuffer(data))
    } else {
      for (const buf of piecesOf(data)) { more = this.push(toBuffer(buf)) }
    }
    if (!more && this.stream.readStatus === 'readable') {
      // stop consuming: the stream grants no window until we resume
      this.stream.pause()
    }
  }

  _read (): void {
    if (this.stream.readStatus === 'paused') {
      this.stream.resume()
    }
  }

  private readonly onEnd = (): void => {
    // an abort or reset also ends the stream's reading; 'close' turns that into an error
    if (this.readEnded || this.stream.status === 'aborted' || this.stream.status === 'reset') { return }
    this.readEnded = true
    this.push(null)
  }

  private readonly onClose = (evt: StreamCloseEvent): void => {
    if (evt.error != null) {
      this.destroy(evt.error instanceof SessionDestroyedError ? undefined : evt.error)
    }
  }

  // ---- writer → muxado

  _write (chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.sendAll([chunk]).then(() => { callback() }, callback)
  }

  _writev (chunks: Array<{ chunk: Buffer }>, callback: (err?: Error | null) => void): void {
    this.sendAll(chunks.map(c => c.chunk)).then(() => { callback() }, callback)
  }

  private async sendAll (bufs: Uint8Array[]): Promise<void> {
    this.touch()
    for (const buf of bufs) {
      for (let offset = 0; offset < buf.byteLength; offset += SEND_PIECE) {
        if (!this.stream.send(buf.subarray(offset, offset + SEND_PIECE))) {
          await this.drained()
        }
      }
    }
  }

  /** Wait until the stream has sent everything it holds; a stream's 'drain' says so */
  private async drained (): Promise<void> {
    const stream = this.stream
    while (stream.writableNeedsDrain) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          stream.removeEventListener('close', onClose)
          resolve()
        }
        const onClose = (evt: StreamCloseEvent): void => {
          stream.removeEventListener('drain', onDrain)
          reject(evt.error ?? new StreamClosedError(`Stream ${stream.streamId} closed with data unsent`))
        }
        stream.addEventListener('drain', onDrain, { once: true })
        stream.addEventListener('close', onClose, { once: true })
      })
    }
  }

  _final (callback: (err?: Error | null) => void): void {
    // FIN once everything written has been handed to the connection
    this.stream.close().then(() => { callback() }, callback)
  }

  _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    this.clearIdleTimer()
    this.stream.removeEventListener('message', this.onMessage)
    const stream = this.stream
    if (stream.status === 'open') {
      if (err != null) {
        // RST: the peer's reads and writes fail with the error code
        stream.abort(err)
      } else {
        // Go's Close(), and what destroy() does to a TCP socket: FIN after what the stream
        // already holds, and discard whatever the peer still sends. http destroys sockets this
        // way when it is done with them, and must not reset streams that ended normally
        if (stream.readStatus !== 'closing' && stream.readStatus !== 'closed') {
          stream.closeRead().catch(() => {})
        }
        if (stream.writeStatus === 'writable') {
          stream.close().catch(() => {})
        }
      }
    }
    callback(err)
  }

  // ---- net.Socket compatibility

  /**
   * Emit 'timeout' after `ms` without reading or writing, as `net.Socket` does (the stream is
   * not closed; `http` destroys idle keep-alive sockets this way). 0 turns the timer off.
   */
  setTimeout (ms: number, callback?: () => void): this {
    this.timeout = ms
    if (callback != null) {
      if (ms === 0) { this.off('timeout', callback) } else { this.once('timeout', callback) }
    }
    this.clearIdleTimer()
    if (ms > 0 && !this.destroyed) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined
        this.emit('timeout')
      }, ms)
      this.idleTimer.unref?.()
    }
    return this
  }

  /** Frames go out at the end of each event-loop turn already; a no-op */
  setNoDelay (_noDelay?: boolean): this {
    return this
  }

  /** muxado's heartbeats keep the session alive; a no-op */
  setKeepAlive (_enable?: boolean, _initialDelay?: number): this {
    return this
  }

  /** The session's socket keeps the process alive, not the stream; a no-op */
  ref (): this {
    return this
  }

  /** The session's socket keeps the process alive, not the stream; a no-op */
  unref (): this {
    return this
  }

  /** End the writable side (FIN) and destroy once it has finished, as `net.Socket.destroySoon()` */
  destroySoon (): void {
    if (this.writable) { this.end() }
    if (this.writableFinished) {
      this.destroy()
    } else {
      this.once('finish', () => { this.destroy() })
    }
  }

  private touch (): void {
    this.idleTimer?.refresh()
  }

  private clearIdleTimer (): void {
    if (this.idleTimer != null) {
      clearTimeout(this.idleTimer)
      this.idleTimer = undefined
    }
  }
}
