export const knocks = {};
