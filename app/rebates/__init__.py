"""Rebates (返利): policies, accrual, settlement runs, the per-dealer ledger, using a
balance as an invoice offset (票折) or free goods (货补), price protection (价格补差),
claims with evidence, and what-if simulation of a policy before it is published."""
