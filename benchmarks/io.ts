/**
 * Writers and readers shared by the scenarios. Every writer is "strict": it re-checks
 * backpressure before each send, because `onDrain()` resolves at once after its first use and a
 * connection drain wakes every stream (@libp2p/utils 7.4.1). A looser writer would measure
 * buffering instead of the muxer.
 */
import { once } from 'node:events'
import { pEvent } from 'p-event'
import type { MessageStream } from '@libp2p/interface'
import type net from 'node:net'

export interface WriteStrictOptions {
  /** allocate a new buffer per send (memory runs) */
  fresh?: boolean
  /** hand each send to this instead of `stream.send()`, which then only gives the backpressure */
  send?(buf: Uint8Array): void
}

/** Send `total` bytes in `chunk`-sized sends */
export async function writeStrict (stream: MessageStream, chunk: Uint8Array, total: number, { fresh = false, send }: WriteStrictOptions = {}): Promise<void> {
  let sent = 0
  while (sent < total) {
    if (stream.writableNeedsDrain) {
      await pEvent(stream, 'drain', { rejectionEvents: ['close'] })
      continue
    }
    const n = Math.min(chunk.byteLength, total - sent)
    const buf = fresh ? Buffer.alloc(n, 1) : chunk.subarray(0, n)
    if (send == null) { stream.send(buf) } else { send(buf) }
    sent += n
  }
}

/** The bare-socket writer: `write()` until it returns false, then wait for the socket's drain */
export async function writeSocket (socket: net.Socket, chunk: Uint8Array, total: number): Promise<void> {
  let sent = 0
  while (sent < total) {
    const n = Math.min(chunk.byteLength, total - sent)
    sent += n
    if (!socket.write(chunk.subarray(0, n))) { await once(socket, 'drain') }
  }
}

/** Resolves once `total` bytes have arrived as 'message' events (rejects if the stream closes first) */
export async function readBytes (stream: MessageStream, total: number, onMessage?: (bytes: number) => void): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let received = 0
    const onData = (evt: { data: { byteLength: number } }): void => {
      received += evt.data.byteLength
      onMessage?.(evt.data.byteLength)
      if (received >= total) {
        cleanup()
        resolve()
      }
    }
    const onClose = (evt: Event & { error?: Error }): void => {
      cleanup()
      reject(evt.error ?? new Error(`stream closed after ${received} of ${total} bytes`))
    }
    const cleanup = (): void => {
      stream.removeEventListener('message', onData)
      stream.removeEventListener('close', onClose)
    }
    stream.addEventListener('message', onData)
    stream.addEventListener('close', onClose)
  })
}

/** Same as `readBytes` for a bare socket */
export async function readSocket (socket: net.Socket, total: number, onData?: (bytes: number) => void): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let received = 0
    const onChunk = (buf: Buffer): void => {
      received += buf.byteLength
      onData?.(buf.byteLength)
      if (received >= total) {
        socket.off('data', onChunk)
        socket.off('close', onClose)
        resolve()
      }
    }
    const onClose = (): void => { reject(new Error(`socket closed after ${received} of ${total} bytes`)) }
    socket.on('data', onChunk)
    socket.once('close', onClose)
  })
}

/** Echo everything back and half-close when the remote does; strict about backpressure */
export function echo (stream: MessageStream): void {
  let paused = false
  stream.addEventListener('message', evt => {
    if (!stream.send(evt.data)) {
      paused = true
      stream.pause()
    }
  })
  stream.addEventListener('drain', () => {
    if (paused) {
      paused = false
      stream.resume()
    }
  })
  stream.addEventListener('remoteCloseWrite', () => {
    stream.close().catch(err => { stream.abort(err) })
  })
}

/**
 * Bytes parked in buffers right now: every stream's write and read buffer on both muxers, both
 * connections' buffers and the sockets' write queues. With strict writers this should stay
 * bounded by the flow-control windows, whatever the writers offer.
 */
export function parkedBytes (muxers: Array<{ streams: MessageStream[] }>, conns: MessageStream[], sockets: net.Socket[] = []): number {
  let total = 0
  for (const muxer of muxers) {
    for (const s of muxer.streams) { total += s.writeBufferLength + s.readBufferLength }
  }
  for (const c of conns) { total += c.writeBufferLength + c.readBufferLength }
  for (const s of sockets) { total += s.writableLength }
  return total
}
