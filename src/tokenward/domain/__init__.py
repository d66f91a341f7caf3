"""Pure rules of tokenward: no I/O, standard library only."""
