import { Uint8ArrayList } from 'uint8arraylist'
import { HeartbeatTimeoutError } from './errors.ts'
import type { RttEstimator } from './rtt.ts'
import type { MuxadoStream } from './stream.ts'

/**
 * The heartbeat extension of Go muxado v1 (proto/ext/heartbeat.go). Each side may open one stream of type 0xFFFFFEFF
 * and write 4-byte pings on it; the other side echoes them. A Go peer pings every 3 s and closes
 * the session when no echo comes for 13 s, so answering is mandatory; pinging is ours to choose.
 * Neither side ever FINs or RSTs a heartbeat stream, and libp2p never sees one.
 */

export interface HeartbeatOptions {
  /** ms between a ping's echo and the next ping */
  interval: number
  /** ms to wait for a ping's echo before declaring the peer dead */
  timeout: number
}

const PING_LENGTH = 4

/**
 * Echo every byte the peer writes on its heartbeat stream. Echoes use the stream's window like
 * any data; while one cannot be sent the stream is paused, so unread pings hold the peer at the
 * window instead of piling up replies.
 */
export function answerHeartbeats (stream: MuxadoStream): void {
  const resume = (): void => {
    if (stream.readStatus === 'paused') { stream.resume() }
  }
  stream.addEventListener('message', (evt) => {
    if (stream.writeStatus !== 'writable') { return }
    if (!stream.send(evt.data) && stream.readStatus === 'readable') {
      stream.pause()
      stream.addEventListener('drain', resume, { once: true })
    }
  })
}

/**
 * Pings the peer on our own heartbeat stream, one ping in flight at a time, and measures the
 * round trip. No echo within `timeout`, and nothing else from the peer either, means the peer or
 * the path is dead. On a slow link a ping can wait seconds behind the DATA already in flight, so
 * a late echo alone, while the peer's frames keep arriving, extends the wait instead.
 */
export class Heartbeat {
  private readonly stream: MuxadoStream
  private readonly options: HeartbeatOptions
  private readonly rtt: RttEstimator
  private readonly onTimeout: (err: HeartbeatTimeoutError) => void
  private readonly echo = new Uint8ArrayList()
  private pingId = 0
  private sentAt = 0
  private timer?: ReturnType<typeof setTimeout>
  private stopped = false
  private heardFromPeer = false

  constructor (stream: MuxadoStream, options: HeartbeatOptions, rtt: RttEstimator, onTimeout: (err: HeartbeatTimeoutError) => void) {
    this.stream = stream
    this.options = options
    this.rtt = rtt
    this.onTimeout = onTimeout
    stream.addEventListener('message', (evt) => { this.onEcho(evt.data) })
    this.sendPing()
  }

  /** Bytes arrived from the peer: it is alive, whatever became of the last ping */
  heard (): void {
    this.heardFromPeer = true
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  private sendPing (): void {
    if (this.stopped) { return }
    if (this.stream.writeStatus !== 'writable') {
      // the peer reset our heartbeat stream; the session itself may still be fine
      this.stop()
      return
    }
    this.pingId = (this.pingId + 1) >>> 0
    const ping = new Uint8Array(PING_LENGTH)
    new DataView(ping.buffer).setUint32(0, this.pingId)
    this.sentAt = performance.now()
    this.stream.send(ping)
    this.heardFromPeer = false
    this.schedule(this.options.timeout, this.waitedForEcho)
  }

  private readonly waitedForEcho = (): void => {
    if (this.heardFromPeer) {
      this.heardFromPeer = false
      this.schedule(this.options.timeout, this.waitedForEcho)
      return
    }
    this.onTimeout(new HeartbeatTimeoutError(`No heartbeat echo and no other frame within ${this.options.timeout} ms`))
  }

  private onEcho (data: Uint8Array | Uint8ArrayList): void {
    this.echo.append(data)
    while (this.echo.byteLength >= PING_LENGTH) {
      const answered = this.echo.getUint32(0) === this.pingId
      this.echo.consume(PING_LENGTH)
      if (answered && !this.stopped) {
        this.rtt.add(performance.now() - this.sentAt)
        this.schedule(this.options.interval, () => { this.sendPing() })
      }
    }
  }

  private schedule (ms: number, fn: () => void): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(fn, ms)
    // a heartbeat alone must not keep the process alive; the connection decides that
    this.timer.unref?.()
  }
}
