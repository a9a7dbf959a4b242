import { multiaddrConnectionPair } from '@libp2p/utils'
import { pEvent } from 'p-event'
import { Uint8ArrayList } from 'uint8arraylist'
import { muxado } from '../../src/index.ts'
import type { MuxadoInit, MuxadoMuxer } from '../../src/index.ts'
import type { Stream } from '@libp2p/interface'

/** A client and a server muxer joined by an in-memory connection */
export function muxerPair (init: MuxadoInit = {}): { client: MuxadoMuxer, server: MuxadoMuxer } {
  const [outbound, inbound] = multiaddrConnectionPair()
  const factory = muxado({ enableHeartbeat: false, ...init })()
  return { client: factory.createStreamMuxer(outbound), server: factory.createStreamMuxer(inbound) }
}

/** Send with backpressure: a false `send()` means wait for 'drain' before the next one */
export async function write (stream: Stream, data: Uint8Array | Uint8ArrayList): Promise<void> {
  if (!stream.send(data)) { await pEvent(stream, 'drain', { rejectionEvents: ['close'] }) }
}

export async function readAll (stream: Stream): Promise<Uint8Array> {
  const all = new Uint8ArrayList()
  for await (const chunk of stream) { all.append(chunk) }
  return all.subarray()
}

/** Echo every inbound stream back to its sender, then close our write side */
export function echoInbound (muxer: MuxadoMuxer): void {
  muxer.addEventListener('stream', (evt) => {
    const stream = evt.detail
    void (async () => {
      for await (const chunk of stream) { await write(stream, chunk) }
      await stream.close()
    })().catch(() => {})
  })
}

export function pattern (length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length)
  for (let i = 0; i < length; i++) { bytes[i] = (seed * 31 + i) & 0xff }
  return bytes
}
