// Words used across screens.
export const common = {
  close: 'Close',
  cancel: 'Cancel',
  save: 'Save',
  saving: 'Saving…',
  retry: 'Try again',
};
