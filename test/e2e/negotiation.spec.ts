import { noise } from '@chainsafe/libp2p-noise'
import { mplex } from '@libp2p/mplex'
import { plaintext } from '@libp2p/plaintext'
import { yamux } from '@libp2p/yamux'
import { expect } from 'aegir/chai'
import { muxado } from '../../src/index.ts'
import { sha256 } from '../helpers/digest.ts'
import { pattern } from '../helpers/streams.ts'
import { createNode, echo, recordMuxer, stopAll } from './helpers.ts'
import type { EncrypterEntry, MuxerEntry } from './helpers.ts'
import type { Libp2p } from '@libp2p/interface'

const MUXADO = '/muxado/1.0.0'
const YAMUX = '/yamux/1.0.0'

/**
 * Which muxer each side runs. Noise 17 negotiates it inside the handshake, and each side takes the
 * first entry of the *remote's* list that it supports (libp2p-noise src/noise.ts getStreamMuxer),
 * so only lists in the same order are safe there. Plaintext falls back to multistream-select,
 * where the dialer's order wins.
 */
describe('e2e: muxer negotiation', () => {
  let nodes: Libp2p[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  interface Setup {
    dialer: Libp2p
    listener: Libp2p
    dialerMuxers: string[]
    listenerMuxers: string[]
  }

  async function setup (encrypter: () => EncrypterEntry, dialerMuxers: MuxerEntry[], listenerMuxers: MuxerEntry[]): Promise<Setup> {
    const dialerCreated: string[] = []
    const listenerCreated: string[] = []
    const dialer = await createNode({ encrypters: [encrypter()], muxers: dialerMuxers.map(m => recordMuxer(m, dialerCreated)) })
    const listener = await createNode({ encrypters: [encrypter()], muxers: listenerMuxers.map(m => recordMuxer(m, listenerCreated)) })
    nodes.push(dialer, listener)
    return { dialer, listener, dialerMuxers: dialerCreated, listenerMuxers: listenerCreated }
  }

  async function expectWorkingEcho ({ dialer, listener }: Setup, muxer: string): Promise<void> {
    const data = pattern(100_000, 3)
    expect(sha256(await echo(dialer, listener.getMultiaddrs(), data))).to.equal(sha256(data))
    expect(dialer.getConnections(listener.peerId).map(c => c.multiplexer)).to.deep.equal([muxer])
    expect(listener.getConnections(dialer.peerId).map(c => c.multiplexer)).to.deep.equal([muxer])
  }

  /** Both ends give up on the connection by themselves, within a second */
  async function expectNoConnections ({ dialer, listener }: Setup): Promise<void> {
    const deadline = Date.now() + 1000
    while (dialer.getConnections().length + listener.getConnections().length > 0 && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    expect(dialer.getConnections()).to.have.length(0)
    expect(listener.getConnections()).to.have.length(0)
  }

  for (const [name, encrypter] of [['noise', noise], ['plaintext', plaintext]] as const) {
    describe(`with ${name}`, () => {
      it('[muxado, yamux] dialing [yamux] runs yamux', async function () {
        this.timeout(10_000)
        const s = await setup(encrypter, [muxado(), yamux()], [yamux()])
        await expectWorkingEcho(s, YAMUX)
        expect(s.dialerMuxers).to.deep.equal([YAMUX])
        expect(s.listenerMuxers).to.deep.equal([YAMUX])
      })

      it('[yamux, muxado] dialing [muxado] runs muxado', async function () {
        this.timeout(10_000)
        const s = await setup(encrypter, [yamux(), muxado()], [muxado()])
        await expectWorkingEcho(s, MUXADO)
        expect(s.dialerMuxers).to.deep.equal([MUXADO])
        expect(s.listenerMuxers).to.deep.equal([MUXADO])
      })

      it('[muxado, yamux] on both sides runs muxado', async function () {
        this.timeout(10_000)
        const s = await setup(encrypter, [muxado(), yamux()], [muxado(), yamux()])
        await expectWorkingEcho(s, MUXADO)
      })

      it('[muxado] dialing [mplex] fails to connect with a clear error', async function () {
        this.timeout(10_000)
        const s = await setup(encrypter, [muxado()], [mplex()])
        const err = await s.dialer.dial(s.listener.getMultiaddrs()).then(() => undefined, (err: Error) => err)
        if (name === 'noise') {
          expect(err).to.have.property('name', 'EncryptionFailedError')
          expect(err).to.have.property('message').that.matches(/no common muxers/)
        } else {
          expect(err).to.have.property('name', 'MuxerUnavailableError')
          expect(err).to.have.property('message').that.matches(/could not negotiate \/muxado\/1\.0\.0/)
        }
        expect(s.dialerMuxers).to.deep.equal([])
        await expectNoConnections(s)
      })
    })
  }

  describe('muxers listed in opposite orders', () => {
    it('plaintext: [muxado, yamux] dialing [yamux, muxado] runs the dialer\'s first choice, muxado', async function () {
      this.timeout(10_000)
      const s = await setup(plaintext, [muxado(), yamux()], [yamux(), muxado()])
      await expectWorkingEcho(s, MUXADO)
    })

    it('plaintext: [yamux, muxado] dialing [muxado, yamux] runs the dialer\'s first choice, yamux', async function () {
      this.timeout(10_000)
      const s = await setup(plaintext, [yamux(), muxado()], [muxado(), yamux()])
      await expectWorkingEcho(s, YAMUX)
    })

    // Noise 17: the dialer takes the first of the listener's list, the listener the first of the
    // dialer's list. The two ends run different muxers, each reads the other's first frame
    // (muxado's heartbeat SYN, yamux's keep-alive ping) as a protocol violation, and the
    // connection dies within milliseconds. Rule: list muxers in the same order on every node.
    for (const [dialerMuxers, listenerMuxers, dialerRuns, listenerRuns] of [
      [() => [muxado(), yamux()], () => [yamux(), muxado()], YAMUX, MUXADO],
      [() => [yamux(), muxado()], () => [muxado(), yamux()], MUXADO, YAMUX]
    ] as const) {
      it(`noise: the dialer runs ${dialerRuns} and the listener ${listenerRuns}, and the connection breaks`, async function () {
        this.timeout(10_000)
        const s = await setup(noise, dialerMuxers(), listenerMuxers())
        const result = await echo(s.dialer, s.listener.getMultiaddrs(), pattern(1000), AbortSignal.timeout(5000))
          .then(() => 'echoed', (err: Error) => err)
        expect(result).to.be.an('error')
        expect(s.dialerMuxers).to.deep.equal([dialerRuns])
        expect(s.listenerMuxers).to.deep.equal([listenerRuns])
        await expectNoConnections(s)
      })
    }

    it('noise, with muxado heartbeats and yamux keep-alives off: the broken connection looks open until its first stream', async function () {
      this.timeout(10_000)
      const s = await setup(noise,
        [muxado({ enableHeartbeat: false }), yamux({ enableKeepAlive: false })],
        [yamux({ enableKeepAlive: false }), muxado({ enableHeartbeat: false })])
      const connection = await s.dialer.dial(s.listener.getMultiaddrs())
      await new Promise(resolve => setTimeout(resolve, 200))
      expect(connection.status).to.equal('open')
      expect(connection.multiplexer).to.equal(YAMUX)
      expect(s.listener.getConnections(s.dialer.peerId).map(c => c.multiplexer)).to.deep.equal([MUXADO])
      const result = await echo(s.dialer, connection.remotePeer, pattern(1000), AbortSignal.timeout(5000))
        .then(() => 'echoed', (err: Error) => err)
      expect(result).to.be.an('error')
      await expectNoConnections(s)
    })
  })
})
