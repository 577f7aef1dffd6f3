// Each layer registers itself with open() when its module loads.
export {};
