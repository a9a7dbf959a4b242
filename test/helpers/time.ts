/** Waiting in tests: sleeping, polling a condition, bounding a promise */

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Wait until `predicate` holds, polling every `pollMs`, or fail after `timeoutMs` */
export async function until (predicate: () => boolean, what: string, timeoutMs = 2000, pollMs = 2): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) { throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`) }
    await sleep(pollMs)
  }
}

/**
 * `promise`, or a rejection after `ms`; the timer is cleared either way. `what` names the
 * promise in the error, or is a function that builds the whole message when the time is up.
 */
export async function within<T> (promise: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(typeof what === 'string' ? `${what} did not settle within ${ms} ms` : what()))
    }, ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
