// Profiles in rooms: the Settings profile section and the errors of the display name and picture
// that members share with each other (docs/decisions.md "Profiles in rooms").
export const profiles = {
  section: {
    title: 'Profile',
    yourPicture: 'Your picture',
    choose: 'Choose a picture…',
    remove: 'Remove picture',
    pictureHint:
      'Kept small (96×96) and shown, encrypted, to the members of your rooms; never in rooms where you appear under a pseudonym, and your provider never sees it.',
    displayName: 'Display name',
    displayNameHint:
      'Shown, encrypted, to the members of your rooms (not where you appear under a pseudonym), and kept by your provider with your profile; people find you by it only if you make it searchable (People → What others can find).',
    save: 'Save',
    saving: 'Saving…',
    nameSaved: 'Display name saved.',
    nameRemoved: 'Display name removed.',
    pictureSaved: 'Picture saved; the members of your rooms see it shortly.',
    pictureRemoved: 'Picture removed.',
    tryAgain: 'Try again',
  },
  avatar: {
    notPicture: 'That file is not a picture. Choose a PNG, JPEG, GIF or WebP image.',
    tooLarge: 'That picture is larger than 10 MB. Choose a smaller one.',
    unreadable: 'That picture could not be read. Choose another PNG, JPEG, GIF or WebP image.',
    noCanvas: 'This window cannot draw pictures; try again after restarting mimi.',
  },
  errors: {
    nameEmpty: 'A display name cannot be empty; type one or remove it.',
    nameSpaces: 'A display name cannot start or end with a space.',
    nameTooLong: 'A display name has at most {max} characters; shorten it.',
    nameControl: 'A display name cannot contain control characters such as line breaks or tabs; remove them.',
    avatarTooBig: 'The picture is larger than {kib} KiB; choose a smaller one.',
    avatarNotPng: 'The picture is not a PNG image; choose a PNG file.',
    avatarTooLarge: 'The picture is {width}×{height} pixels; it may be at most {max}×{max}. Scale it down first.',
    malformed: 'A member shared a profile this app cannot read; it was ignored.',
  },
};
