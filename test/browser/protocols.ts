/** What the Node peer (`node-peer.ts`) answers, shared by both sides of the browser suite */

export const ECHO = '/browser/echo/1.0.0'

/** Replies with the JSON `ConnectionReport[]` of the asking peer's connections that have closed */
export const REPORT = '/browser/report/1.0.0'

/** How one ECHO stream ended on the Node side */
export interface StreamReport {
  closed: boolean
  /** the name of the error its 'close' event carried, if any */
  error?: string
}

export interface ConnectionReport {
  multiplexer?: string
  /** ECHO streams, in the order they opened */
  streams: StreamReport[]
  /** streams the connection still listed when it closed */
  openStreams: number
}
