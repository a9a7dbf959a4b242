// Node 20 lacks Promise.withResolvers, which libp2p v3 calls unguarded. Tests and benchmarks
// preload this file; src/ never patches globals.
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers () {
      /** @type {{ resolve: (value: unknown) => void, reject: (reason?: unknown) => void }} */
      const settle = { resolve: () => {}, reject: () => {} }
      const promise = new Promise((resolve, reject) => { settle.resolve = resolve; settle.reject = reject })
      return { promise, ...settle }
    }
  })
}
