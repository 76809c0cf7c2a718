// Files and images: attaching (picker, drop, paste), sending with progress, and a message's
// attachment in the timeline (preview, download).
export const attachments = {
  attach: 'Attach a file or image',
  attachTitle: 'Attach a file or image (or drop or paste one here)',
  uploads: 'Files being sent',
  sending: 'Sending {name} ({size})',
  sendingProgress: 'Sending {name}: {percent}',
  dismissAbout: 'Dismiss the message about {name}',
  dismiss: 'Dismiss',
  image: 'Image {name}',
  preview: 'Preview of {name}',
  save: 'Save',
  saveName: 'Save {name}',
  download: 'Download',
  downloadName: 'Download {name}',
  downloading: 'Downloading {name}: {percent}',
  retry: 'Try again',
  retrySend: 'Try again: send {name}',
  errors: {
    empty: '{name} is empty: pick another file.',
    tooLarge: '{name} is {size}; at most {max} can be sent. Send a smaller file.',
    notSent: '{name} was not sent: {error}',
    unreadable: 'The file could not be read. Check that it still exists and try again.',
  },
};
