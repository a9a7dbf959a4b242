interface Waiter<T> {
  resolve(item: T): void
  reject(err: Error): void
}

/**
 * What waits for `accept()`, and the `accept()` calls waiting for it: a session's streams, a
 * server's sessions. What to do when the queue is full is the owner's choice.
 */
export class AcceptQueue<T> {
  private readonly items: T[] = []
  private readonly waiters: Array<Waiter<T>> = []
  private closedWith?: Error

  get length (): number {
    return this.items.length
  }

  /** The oldest queued item, or the next one to come; `signal` stops waiting */
  async accept (signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted()
    const queued = this.items.shift()
    if (queued !== undefined) { return queued }
    if (this.closedWith != null) { throw this.closedWith }
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1)
        reject(signal?.reason)
      }
      const settled = <A>(settle: (arg: A) => void) => (arg: A): void => {
        signal?.removeEventListener('abort', onAbort)
        settle(arg)
      }
      const waiter: Waiter<T> = { resolve: settled(resolve), reject: settled(reject) }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
    })
  }

  /** Every item to come; the loop ends once the queue is closed */
  async * [Symbol.asyncIterator] (): AsyncGenerator<T, void, undefined> {
    while (true) {
      let item: T
      try {
        item = await this.accept()
      } catch (err) {
        if (this.closedWith != null) { return }
        throw err
      }
      yield item
    }
  }

  /** Give `item` to the oldest waiting `accept()`; false when none waits */
  handOff (item: T): boolean {
    const waiter = this.waiters.shift()
    waiter?.resolve(item)
    return waiter != null
  }

  /** Keep `item` for a later `accept()` */
  keep (item: T): void {
    this.items.push(item)
  }

  /** Forget `item`, or without one the oldest */
  drop (item?: T): void {
    const index = item === undefined ? 0 : this.items.indexOf(item)
    if (index !== -1) { this.items.splice(index, 1) }
  }

  /** Waiting and later `accept()` calls reject with `err`; returns the items that were queued */
  close (err: Error): T[] {
    this.closedWith = err
    for (const waiter of this.waiters.splice(0)) { waiter.reject(err) }
    return this.items.splice(0)
  }
}
