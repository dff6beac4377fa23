/** A problem with what the user asked for: printed as one line, exit status 2, no stack trace. */
export class UserError extends Error {}

export const USAGE_ERROR_STATUS = 2;
