"""Tax-collected union dues (税务代收): the tax bureau's records, imported and reconciled (docs/tax.md)."""
