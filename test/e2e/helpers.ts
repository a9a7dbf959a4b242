import { noise } from '@chainsafe/libp2p-noise'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { pEvent } from 'p-event'
import { muxado } from '../../src/index.ts'
import { echoStream, readAll, write } from '../helpers/streams.ts'
import type { Identify } from '@libp2p/identify'
import type { Connection, ConnectionEncrypter, Libp2p, StreamMuxerFactory, Transport } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import type { Libp2pOptions } from 'libp2p'

export const ECHO = '/e2e/echo/1.0.0'

/** libp2p allows 32 inbound and 64 outbound streams per protocol by default; the e2e tests open more */
export const STREAM_LIMITS = { maxInboundStreams: 1000, maxOutboundStreams: 1000 }

export type MuxerEntry = (components: any) => StreamMuxerFactory
export type TransportEntry = (components: any) => Transport
export type EncrypterEntry = (components: any) => ConnectionEncrypter

export interface NodeOptions {
  listen?: string[]
  transports?: TransportEntry[]
  encrypters?: EncrypterEntry[]
  muxers?: MuxerEntry[]
}

/** The config of a node on 127.0.0.1 with TCP + Noise + muxado unless told otherwise */
function nodeConfig (options: NodeOptions): Libp2pOptions {
  return {
    addresses: { listen: options.listen ?? ['/ip4/127.0.0.1/tcp/0'] },
    transports: options.transports ?? [tcp()],
    connectionEncrypters: options.encrypters ?? [noise()],
    streamMuxers: options.muxers ?? [muxado()]
  }
}

/** A node on 127.0.0.1 with TCP + Noise + muxado unless told otherwise; it answers ECHO */
export async function createNode (options: NodeOptions = {}): Promise<Libp2p> {
  const node = await createLibp2p(nodeConfig(options))
  await node.handle(ECHO, echoStream, STREAM_LIMITS)
  return node
}

export type ServiceNode = Libp2p<{ identify: Identify, ping: Ping }>

/** As `createNode`, plus the identify and ping services */
export async function createServiceNode (options: NodeOptions = {}): Promise<ServiceNode> {
  const node = await createLibp2p({
    ...nodeConfig(options),
    services: { identify: identify(), ping: ping() }
  })
  await node.handle(ECHO, echoStream, STREAM_LIMITS)
  return node
}

/** Stop every node, even if some of them fail to stop */
export async function stopAll (nodes: Array<Libp2p | undefined>): Promise<void> {
  await Promise.allSettled(nodes.map(async (node) => node?.stop()))
}

/**
 * Send `data` on a new ECHO stream in 64 KiB writes, half-close, and return what came back.
 * The read runs concurrently with the writes, as it must: muxado windows are per stream.
 */
export async function echo (node: Libp2p, target: Parameters<Libp2p['dialProtocol']>[0], data: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
  const stream = await node.dialProtocol(target, ECHO, { ...STREAM_LIMITS, signal })
  const reply = readAll(stream)
  for (let offset = 0; offset < data.byteLength; offset += 65536) {
    await write(stream, data.subarray(offset, offset + 65536))
  }
  await stream.close()
  return reply
}

/**
 * Dial and wait until the listener has registered the connection too: `dial()` resolves on the
 * dialer before the listener's upgrade is done.
 */
export async function connect (dialer: Libp2p, listener: Libp2p): Promise<{ outbound: Connection, inbound: Connection }> {
  const inbound = pEvent<'connection:open', CustomEvent<Connection>>(listener, 'connection:open', {
    filter: (evt) => evt.detail.remotePeer.equals(dialer.peerId),
    timeout: 10_000
  })
  const outbound = await dialer.dial(listener.getMultiaddrs())
  return { outbound, inbound: (await inbound).detail }
}

/**
 * Wrap a muxer factory so the test sees which muxer each side really instantiated. libp2p reports
 * a connection's `multiplexer` per side, and under Noise the two sides can disagree.
 */
export function recordMuxer (entry: MuxerEntry, created: string[]): MuxerEntry {
  return (components) => {
    const factory = entry(components)
    return {
      protocol: factory.protocol,
      createStreamMuxer: (maConn) => {
        created.push(factory.protocol)
        return factory.createStreamMuxer(maConn)
      }
    }
  }
}
