// A database that does not answer within the bound: every API call that needed it answers in the usual error
// shape (internal_error) with words that say so, instead of hanging.
import { ApiError, apiError } from '../api/errors.js';

export class DatabaseTimeoutError extends ApiError {
  constructor(seconds: number) {
    const { status, body } = apiError('internal_error', `The database did not answer within ${seconds} seconds. Try again shortly; if this persists, the server's database is unavailable.`);
    super(status, body);
    this.name = 'DatabaseTimeoutError';
  }
}
