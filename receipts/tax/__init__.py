"""Tax-collected union dues (税务代收, docs/tax.md): the tax bureau's collection records imported
all or nothing, their income by item for settlement, and its transfers reconciled against the
bank's credits."""
