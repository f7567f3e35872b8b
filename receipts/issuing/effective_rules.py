"""The union-finance rules a federation applies when it issues (docs/formats.md,
"Union-finance rules").

The national federation and a province set rules: the national defaults with their own
``[rules]`` in place of them. A city-tier federation takes rules: those of the newest signed
allocation its province made to it (the national defaults until one carries rules), which its
own ``[rules]`` may tighten but never loosen.
"""

from __future__ import annotations

from receipts.domain.enums import Tier
from receipts.domain.finance_rules import DEFAULT_RULES, FinanceRules
from receipts.errors import ConfigurationError, InvalidInput
from receipts.issuing.stock_allocation import upstream_rules
from receipts.ledger.database import Database
from receipts.workspace import CONFIG_NAME, WorkspaceConfig
from signing.trust import ChainValidator

__all__ = ["effective_rules", "rules_to_allocate"]


def rules_to_allocate(config: WorkspaceConfig) -> FinanceRules:
    """The rules a province (or the national federation) sets, and signs into allocations."""
    return DEFAULT_RULES.overridden(config.rule_overrides)


def effective_rules(
    db: Database, config: WorkspaceConfig, validator: ChainValidator
) -> FinanceRules:
    """The rules this federation's issuing applies."""
    org = config.organisation()
    if org.tier is not Tier.CITY:
        return rules_to_allocate(config)
    with db.read() as session:
        found = upstream_rules(session, org.code, validator)
    floor = DEFAULT_RULES if found is None else found[0]
    try:
        return floor.tightened(config.rule_overrides)
    except InvalidInput as error:
        raise ConfigurationError(f"{CONFIG_NAME}: {error} (a city may only tighten)") from None
