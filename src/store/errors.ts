// A database that does not answer within the bound. The envelope turns it into the usual error shape
// (internal_error) with these words, instead of a hang or a bare "internal error".
export class DatabaseTimeoutError extends Error {
  constructor(readonly seconds: number) {
    super(`The database did not answer within ${seconds} seconds. Try again shortly; if this persists, the server's database is unavailable.`);
    this.name = 'DatabaseTimeoutError';
  }
}
