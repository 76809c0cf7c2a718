// Errors the core reports (src-main/core: coreError(code, 'errors.…', params)): shown in the
// window's language; the CLI prints the English.
export const errors = {
  internal: 'Something went wrong inside the app; details are in the log.',
};
