/**
 * The minimal Go libp2p peer (go-libp2p-peer/): this project's own peer on Go's reference muxado
 * and flynn/noise, written from the libp2p specs; not go-libp2p. Start it listening or dialing,
 * then drive it with commands (go-libp2p-peer/commands.go).
 */

import { multiaddr } from '@multiformats/multiaddr'
import { GO_LIBP2P_PEER_BINARY, GoPeer } from './go-peer.ts'
import type { GoEvent, GoPeerOptions } from './go-peer.ts'
import type { Multiaddr } from '@multiformats/multiaddr'

/** How the muxer is chosen: inside the Noise handshake, or by multistream-select after it */
export type Negotiation = 'early' | 'multistream-select'

export const GO_AGENT = 'libp2p-muxado-interop-go-peer/1.0 (minimal peer on Go muxado, not go-libp2p)'

/** The protocols the Go peer answers (go-libp2p-peer/protocols.go) */
export const GO_PROTOCOLS = {
  identify: '/ipfs/id/1.0.0',
  ping: '/ipfs/ping/1.0.0',
  echo: '/e2e/echo/1.0.0',
  /** read until FIN, answer the hex SHA-256 of it, FIN */
  sha256: '/muxado-interop/sha256/1.0.0',
  /** read one byte, then Close(): FIN, then RST StreamClosed for any later DATA */
  closeEarly: '/muxado-interop/close-early/1.0.0'
}

export class GoLibp2pPeer extends GoPeer {
  private nextCommand = 1

  constructor (args: string[], negotiation: Negotiation, options: GoPeerOptions = {}) {
    super([...args, `-early=${negotiation === 'early'}`, '-agent', GO_AGENT], { ...options, binary: GO_LIBP2P_PEER_BINARY })
    // a command written after the process died fails with EPIPE; waitFor reports the exit instead
    this.child.stdin?.on('error', () => {})
  }

  /** Run a command and resolve with its result event; reject unless it succeeded */
  async run (cmd: string, params: Record<string, number> = {}, timeoutMs = 20_000): Promise<GoEvent> {
    const id = this.nextCommand++
    this.child.stdin?.write(JSON.stringify({ id, cmd, ...params }) + '\n')
    const result = await this.waitFor(e => e.event === 'result' && e.id === id, timeoutMs)
    if (result.ok !== true) { throw new Error(`Go command ${cmd} failed: ${result.error}\n${this.diagnostics()}`) }
    return result
  }
}

/** Start a Go peer listening on loopback; resolves with its address, /p2p/ included */
export async function goLibp2pListen (negotiation: Negotiation, options: GoPeerOptions = {}): Promise<{ peer: GoLibp2pPeer, address: Multiaddr }> {
  const peer = new GoLibp2pPeer(['-mode', 'listen'], negotiation, options)
  const listening = await peer.waitFor('listening')
  return { peer, address: multiaddr(`/ip4/127.0.0.1/tcp/${listening.port}/p2p/${listening.peerId}`) }
}

/** Start a Go peer dialing a node's /ip4/.../tcp/.../p2p/... address; it checks the peer ID */
export function goLibp2pDial (target: Multiaddr, negotiation: Negotiation, options: GoPeerOptions = {}): GoLibp2pPeer {
  const parts = new Map(target.getComponents().map(c => [c.name, c.value]))
  const [host, port, peerId] = [parts.get('ip4'), parts.get('tcp'), parts.get('p2p')]
  if (host == null || port == null || peerId == null) { throw new Error(`not an /ip4/…/tcp/…/p2p/… address: ${target.toString()}`) }
  return new GoLibp2pPeer(['-mode', 'dial', '-addr', `${host}:${port}`, '-peer', peerId], negotiation, options)
}
