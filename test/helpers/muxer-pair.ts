import { multiaddrConnectionPair } from '@libp2p/utils'
import { muxado } from '../../src/index.ts'
import { echoStream } from './streams.ts'
import type { MuxadoInit, MuxadoMuxer } from '../../src/index.ts'

/** A client and a server muxer joined by an in-memory connection */
export function muxerPair (init: MuxadoInit = {}): { client: MuxadoMuxer, server: MuxadoMuxer } {
  const [outbound, inbound] = multiaddrConnectionPair()
  const factory = muxado({ enableHeartbeat: false, ...init })()
  return { client: factory.createStreamMuxer(outbound), server: factory.createStreamMuxer(inbound) }
}

/** Echo every inbound stream back to its sender, then close our write side */
export function echoInbound (muxer: MuxadoMuxer): void {
  muxer.addEventListener('stream', (evt) => { void echoStream(evt.detail) })
}
