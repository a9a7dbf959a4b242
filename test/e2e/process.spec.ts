import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { PROTOCOL } from '../../src/index.ts'
import { sha256 } from '../helpers/digest.ts'
import { pattern } from '../helpers/streams.ts'
import { ECHO, STREAM_LIMITS, createNode, echo, stopAll } from './helpers.ts'
import type { Libp2p, Stream, StreamCloseEvent } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { ChildProcess } from 'node:child_process'

/** The compiled peer-process.ts next to this file, and the Promise.withResolvers polyfill */
const PEER_SCRIPT = fileURLToPath(new URL('./peer-process.js', import.meta.url))
const POLYFILL = new URL('../polyfill.mjs', import.meta.url).href

interface Peer {
  child: ChildProcess
  multiaddrs: Multiaddr[]
  /** resolves with the next `{ event: 'connection' }` message the child prints */
  nextConnection(): Promise<Record<string, string>>
  exited: Promise<number | null>
}

/** Start peer-process.js in a new `node` process and wait until it listens */
async function startPeer (): Promise<Peer> {
  const child = spawn(process.execPath, ['--import', POLYFILL, PEER_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise<number | null>((resolve) => { child.once('exit', resolve) })
  const messages: Array<Record<string, any>> = []
  const waiting: Array<() => void> = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    messages.push(JSON.parse(line))
    waiting.splice(0).forEach(wake => { wake() })
  })
  const next = async (event: string): Promise<Record<string, any>> => {
    for (;;) {
      const index = messages.findIndex(m => m.event === event)
      if (index !== -1) { return messages.splice(index, 1)[0] }
      await Promise.race([
        new Promise<void>((resolve) => { waiting.push(resolve) }),
        exited.then(code => { throw new Error(`peer process exited with ${code} before it reported '${event}'`) })
      ])
    }
  }
  const listening = await next('listening')
  return {
    child,
    multiaddrs: listening.multiaddrs.map((ma: string) => multiaddr(ma)),
    nextConnection: async () => next('connection'),
    exited
  }
}

/** Close the child's stdin (it stops its node and exits); SIGKILL it if that takes too long */
async function stopPeer (peer?: Peer): Promise<void> {
  if (peer == null || peer.child.exitCode != null || peer.child.signalCode != null) { return }
  peer.child.stdin?.end()
  const timer = setTimeout(() => { peer.child.kill('SIGKILL') }, 3000)
  await peer.exited
  clearTimeout(timer)
}

describe('e2e: two libp2p nodes in two OS processes, TCP + Noise + muxado', () => {
  let node: Libp2p | undefined
  let peers: Peer[] = []

  afterEach(async () => {
    await stopAll([node])
    await Promise.all(peers.map(stopPeer))
    node = undefined
    peers = []
  })

  async function setup (): Promise<Peer> {
    node = await createNode()
    const peer = await startPeer()
    peers.push(peer)
    return peer
  }

  it('negotiates muxado on both sides and echoes 1 MB and 100 concurrent streams', async function () {
    this.timeout(30_000)
    const peer = await setup()
    const connection = await node!.dial(peer.multiaddrs)
    expect(connection.multiplexer).to.equal(PROTOCOL)
    // the child's view of the same connection
    const remote = await peer.nextConnection()
    expect(remote).to.include({ remotePeer: node!.peerId.toString(), multiplexer: PROTOCOL, encryption: '/noise' })

    const big = pattern(1024 * 1024, 2)
    expect(sha256(await echo(node!, connection.remotePeer, big))).to.equal(sha256(big))

    const echoed = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
      const data = pattern(10_000 + i * 131, i)
      return sha256(await echo(node!, connection.remotePeer, data)) === sha256(data)
    }))
    expect(echoed.filter(ok => !ok)).to.have.length(0)
    expect(node!.getConnections(connection.remotePeer)).to.deep.equal([connection])
  })

  it('the peer process is killed with streams open: the streams fail, nothing hangs, a new peer connects', async function () {
    this.timeout(30_000)
    const peer = await setup()
    const connection = await node!.dial(peer.multiaddrs)
    await peer.nextConnection()
    const streams = await Promise.all(Array.from({ length: 10 }, async () => connection.newStream(ECHO, STREAM_LIMITS)))
    const outcomes = streams.map(async (stream: Stream) => {
      const closed = pEvent<'close', StreamCloseEvent>(stream, 'close')
      try {
        for await (const chunk of stream) { void chunk }
      } catch (err: any) {
        return { iteration: err.name, close: (await closed).error?.name }
      }
      return { iteration: 'ended', close: (await closed).error?.name }
    })
    // echo something on every stream so both sides hold live, half-used streams
    for (const stream of streams) { stream.send(pattern(5000)) }
    await new Promise(resolve => setTimeout(resolve, 100))

    peer.child.kill('SIGKILL')
    const results = await Promise.all(outcomes)
    // the kernel closes the dead process's socket, so the connection ends without any stream
    // FIN or GOAWAY: every stream closes with an error (observed: ConnectionClosedError; a TCP
    // reset would surface as the socket's error instead)
    for (const result of results) {
      expect(result.iteration).to.not.equal('ended')
      expect(result.close).to.be.a('string').and.equal(result.iteration)
    }
    if (connection.status === 'open') {
      await pEvent(connection, 'close', { timeout: 5000 })
    }

    const next = await startPeer()
    peers.push(next)
    const data = pattern(100_000, 4)
    expect(sha256(await echo(node!, next.multiaddrs, data))).to.equal(sha256(data))
  })
})
