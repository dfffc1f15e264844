/** Errors thrown through the view by executor machinery (a Block-STM dependency, a full
 *  shared buffer) extend this; the VM never turns them into a failed receipt. */
export class ExecutorSignal extends Error {}
