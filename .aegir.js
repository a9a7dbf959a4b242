/** @type {import('aegir').PartialOptions} */
export default {
  build: {
    bundle: false
  },
  dependencyCheck: {
    // aegir replaces this list rather than merging it: these folders never ship
    productionIgnorePatterns: ['/benchmark', '/benchmarks', '/dist', '/test', '.aegir.js', '/demo'],
    // test/e2e borrows @libp2p/websockets' own ws on Node 20, which has no global WebSocket
    ignore: ['ws']
  }
}
