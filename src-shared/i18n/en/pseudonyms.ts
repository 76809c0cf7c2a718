export const pseudonyms = {};
