// Words used across screens.
export const common = {
  close: 'Close',
  cancel: 'Cancel',
  save: 'Save',
  saving: 'Saving…',
  dismiss: 'Dismiss',
  retry: 'Try again',
};
