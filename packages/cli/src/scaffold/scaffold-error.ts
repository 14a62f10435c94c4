/** A scaffold request that cannot be carried out as asked (bad name, existing folder …): a usage error. */
export class ScaffoldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScaffoldError';
  }
}
