/**
 * The two ways the interop suites pair a TS muxer with the Go peer over real TCP:
 *
 * "TS client ↔ Go server": the Go peer listens (`-mode listen`, muxado.Server, even ids), we
 * dial with net.connect and run an outbound (client, odd ids) muxer.
 *
 * "Go client ↔ TS server": we listen with net.createServer and run an inbound (server) muxer on
 * the accepted socket; the Go peer dials (`-mode dial`, muxado.Client).
 */

import { buildGoPeersOrSkip, goDial, goListen, killAllGoPeers } from './go-peer.ts'
import { cleanupTcp, dialMuxer, listenMuxer, recordingProxy } from './tcp.ts'
import type { GoPeer } from './go-peer.ts'
import type { RecordingProxy, StreamHandler, TsSession } from './tcp.ts'
import type { MuxadoInit, MuxadoMuxer } from '../../src/index.ts'

export type Role = 'client' | 'server'

export interface StartOptions {
  init?: MuxadoInit
  onStream?: StreamHandler
  /** put a recording proxy between the two peers */
  proxy?: boolean
  /** hard limit for the Go process */
  timeoutMs?: number
}

export interface Started {
  peer: GoPeer
  session: TsSession
  muxer: MuxadoMuxer
  proxy?: RecordingProxy
  /** the proxy direction that carries our bytes to Go */
  tsToGo: 'c2s' | 's2c'
}

export interface Direction {
  title: string
  goRole: Role
  tsRole: Role
  start(goArgs: string[], options?: StartOptions): Promise<Started>
}

export const DIRECTIONS: Direction[] = [{
  title: 'TS client ↔ Go server',
  goRole: 'server',
  tsRole: 'client',
  start: async (goArgs, options = {}) => {
    const { peer, port } = await goListen(goArgs, { timeoutMs: options.timeoutMs })
    const proxy = options.proxy === true ? await recordingProxy(port) : undefined
    const session = await dialMuxer(proxy?.port ?? port, options.init, options.onStream)
    return { peer, session, muxer: session.muxer, proxy, tsToGo: 'c2s' }
  }
}, {
  title: 'Go client ↔ TS server',
  goRole: 'client',
  tsRole: 'server',
  start: async (goArgs, options = {}) => {
    const listener = await listenMuxer(options.init, options.onStream)
    const proxy = options.proxy === true ? await recordingProxy(listener.port) : undefined
    const peer = goDial(proxy?.port ?? listener.port, goArgs, { timeoutMs: options.timeoutMs })
    try {
      const session = await listener.nextSession()
      return { peer, session, muxer: session.muxer, proxy, tsToGo: 's2c' }
    } finally {
      listener.close()
    }
  }
}]

/** Stream ids of each role: the client opens odd ids from 3, the server even ids from 2 */
export function parityOf (role: Role): number {
  return role === 'client' ? 1 : 0
}

/**
 * Build the Go peer before the suite (a failed build fails it, unless MUXADO_SKIP_GO=1 is set: then
 * the suite is skipped with a loud warning) and remove whatever a test left behind after each test.
 */
export function useGoPeer (): void {
  before(function () {
    buildGoPeersOrSkip(this, 'every Go muxado interop scenario')
  })

  afterEach(async () => {
    await killAllGoPeers()
    cleanupTcp()
  })
}
