/**
 * HTTP/1.1 over one muxado session: serveHttp() feeds every accepted stream to an http.Server,
 * MuxadoAgent opens a stream per connection the client needs.
 */

import { once } from 'node:events'
import http from 'node:http'
import { expect } from 'aegir/chai'
import { MuxadoAgent, serveHttp } from '../../src/net/index.ts'
import { sha256 } from '../helpers/digest.ts'
import { cleanup, dialTracked, listenTracked, payload, testCertificate } from './helpers.ts'
import type { Session } from '../../src/net/index.ts'
import type { Server as NetServer } from 'node:net'

const MB = 1024 * 1024
const BIG = payload(10 * MB, 5)
const BIG_SHA = sha256(BIG)

/** GET /echo/<x> → "<x>"; GET /big → 10 MB streamed in 64 KiB writes with backpressure; POST → sha256 of the body */
function handler (req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.method === 'POST') {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => { res.end(sha256(Buffer.concat(chunks))) })
    return
  }
  if (req.url === '/big') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    let offset = 0
    const pump = (): void => {
      while (offset < BIG.byteLength) {
        const chunk = BIG.subarray(offset, offset + 64 * 1024)
        offset += chunk.byteLength
        if (!res.write(chunk)) {
          res.once('drain', pump)
          return
        }
      }
      res.end()
    }
    pump()
    return
  }
  res.end(req.url?.replace(/^\/echo\//, '') ?? '')
}

interface Reply {
  status: number
  body: Buffer
}

async function request (agent: http.Agent, options: http.RequestOptions, body?: Buffer): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    const req = http.request({ agent, host: 'muxado.test', ...options }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

for (const overTls of [false, true]) {
  describe(`libp2p-muxado/net HTTP over one session (${overTls ? 'TLS' : 'TCP'})`, () => {
    let httpServer: http.Server
    let client: Session
    let tcpConnections: number

    beforeEach(async () => {
      httpServer = http.createServer(handler)
      const server = await listenTracked(overTls ? { tls: testCertificate() } : {})
      tcpConnections = 0
      const netServer: NetServer = server.server
      netServer.on('connection', () => { tcpConnections++ })
      server.on('session', (session) => { void serveHttp(session, httpServer) })
      client = await dialTracked({ port: server.address().port, tls: overTls ? { ca: testCertificate().cert, servername: 'localhost' } : undefined })
    })

    afterEach(async () => {
      httpServer.close()
      await cleanup()
    })

    it('100 concurrent requests share one connection', async function () {
      this.timeout(20_000)
      const agent = new MuxadoAgent(client)
      const replies = await Promise.all(Array.from({ length: 100 }, async (_, i) => request(agent, { path: `/echo/${i}` })))
      replies.forEach((reply, i) => {
        expect(reply.status).to.equal(200)
        expect(reply.body.toString()).to.equal(String(i))
      })
      expect(tcpConnections).to.equal(1)
      agent.destroy()
    })

    it('streams a 10 MB response body intact', async function () {
      this.timeout(30_000)
      const agent = new MuxadoAgent(client)
      const reply = await request(agent, { path: '/big' })
      expect(reply.status).to.equal(200)
      expect(reply.body.byteLength).to.equal(BIG.byteLength)
      expect(sha256(reply.body)).to.equal(BIG_SHA)
      agent.destroy()
    })

    it('uploads a 1 MB request body', async function () {
      this.timeout(10_000)
      const agent = new MuxadoAgent(client)
      const body = payload(MB, 9)
      const reply = await request(agent, { method: 'POST', path: '/upload' }, body)
      expect(reply.body.toString()).to.equal(sha256(body))
      agent.destroy()
    })

    it('a keep-alive agent reuses streams for sequential requests', async function () {
      this.timeout(10_000)
      const agent = new MuxadoAgent(client, { keepAlive: true, maxSockets: 2 })
      let opened = 0
      const open = client.open.bind(client)
      client.open = async (options) => {
        opened++
        return open(options)
      }
      for (let i = 0; i < 20; i++) {
        const reply = await request(agent, { path: `/echo/k${i}` })
        expect(reply.body.toString()).to.equal(`k${i}`)
      }
      expect(opened).to.be.at.most(2)
      agent.destroy()
    })

    it('a request fails cleanly when the session is gone', async function () {
      this.timeout(10_000)
      const agent = new MuxadoAgent(client)
      client.destroy()
      await once(client, 'close')
      await expect(request(agent, { path: '/echo/x' })).to.eventually.be.rejected()
    })
  })
}
