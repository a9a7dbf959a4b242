const resolved = Promise.resolve()

/**
 * Run `fn` in a microtask, after the code that queued it and before the next task. A promise
 * reaction rather than `queueMicrotask`: Node makes an async resource for every `queueMicrotask`
 * call, about four times the cost, and the write and read paths queue one or two per message. `fn`
 * must not throw: a throw would surface as an unhandled rejection.
 */
export function runInMicrotask (fn: () => void): void {
  void resolved.then(fn)
}

/**
 * Run `fn` in a later task of the event loop, so that I/O, timers and other sessions get a turn
 * between two parts of a long chunk.
 *
 * Node has `setImmediate`. Browsers do not, and clamp nested `setTimeout(fn, 0)` to 4 ms (HTML,
 * after five levels of nesting), which turns a chunk decoded in 100 parts into 400 ms of idling. A
 * `MessageChannel` message is a task without that clamp.
 */
export const yieldToEventLoop = pickYield()

function pickYield (): (fn: () => void) => void {
  if (typeof setImmediate === 'function') { return (fn) => { setImmediate(fn) } }
  if (typeof MessageChannel === 'function') { return messageChannelYield() }
  return (fn) => { setTimeout(fn, 0) }
}

function messageChannelYield (): (fn: () => void) => void {
  const queue: Array<() => void> = []
  let port: MessagePort | undefined
  return (fn) => {
    port ??= openPort(queue, () => { port = undefined })
    queue.push(fn)
    port.postMessage(null)
  }
}

/** A port whose every message runs the oldest queued callback; closed when the queue empties */
function openPort (queue: Array<() => void>, onClose: () => void): MessagePort {
  const { port1, port2 } = new MessageChannel()
  port1.onmessage = () => {
    const next = queue.shift()
    // an open port keeps some runtimes (Deno, Node) alive: close it whenever nothing waits
    if (queue.length === 0) {
      port1.close()
      onClose()
    }
    next?.()
  }
  return port2
}
