/** Writing, reading and echoing libp2p streams with backpressure, and the payloads the suites send */
import { pEvent } from 'p-event'
import { Uint8ArrayList } from 'uint8arraylist'
import type { MessageStream, Stream } from '@libp2p/interface'

/**
 * Send with backpressure: wait for 'drain' whenever `send()` says the buffer is full. A stream
 * that closes meanwhile rejects with the close event's error (pEvent itself rejects with the event).
 */
export async function write (stream: MessageStream, data: Uint8Array | Uint8ArrayList): Promise<void> {
  if (stream.send(data)) { return }
  try {
    await pEvent(stream, 'drain', { rejectionEvents: ['close'] })
  } catch (evt: any) {
    throw evt?.error ?? new Error('The stream closed before it drained')
  }
}

/** Everything the remote sends until it closes its write end */
export async function readAll (stream: Stream): Promise<Uint8Array> {
  const all = new Uint8ArrayList()
  for await (const chunk of stream) { all.append(chunk) }
  return all.subarray()
}

/** Echo everything until the remote half-closes, then half-close our side */
export async function echoStream (stream: Stream): Promise<void> {
  try {
    for await (const chunk of stream) { await write(stream, chunk) }
    await stream.close()
  } catch (err: any) {
    stream.abort(err)
  }
}

/**
 * Deterministic bytes, different for every seed. The `i >>> 8` term makes the pattern repeat only
 * every 64 KiB, so data delivered out of order in blocks of 256 bytes or more does not compare equal.
 */
export function pattern (length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length)
  for (let i = 0; i < length; i++) { bytes[i] = (i * 31 + seed * 7 + (i >>> 8)) & 0xff }
  return bytes
}
