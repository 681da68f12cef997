// src/api/errors.ts, whose error-id type the pages import, tunes V8's stack capture; the DOM library lacks it.
interface ErrorConstructor {
  stackTraceLimit: number;
}
