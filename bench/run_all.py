"""``make bench``: every speed figure, printed. Takes a few minutes (1,000 tenants)."""
from bench import http, masterdata, orders, rebates, service, statements, tenants


def main() -> None:
    print("== HTTP: portal list page vs /healthz ==", flush=True)
    for line in http.run():
        print(line, flush=True)
    print("\n== Master data at scale: lists, price resolution, import ==", flush=True)
    for line in masterdata.run():
        print(line, flush=True)
    print("\n== Orders and stock at scale: 1,000,000 order lines, 50,000 lots ==", flush=True)
    for line in orders.run():
        print(line, flush=True)
    print("\n== Rebate settlement: 1,000,000 order lines, 500 dealers ==", flush=True)
    for line in rebates.run():
        print(line, flush=True)
    print("\n== Reconciliation statements: a close-of-month run on two workers, one 5,000-line statement ==", flush=True)
    for line in statements.run():
        print(line, flush=True)
    print("\n== After-sales: 5,000 maintenance plans, 100,000 tickets, a recall over 100 lots ==", flush=True)
    for line in service.run():
        print(line, flush=True)
    print("\n== Tenants at scale ==", flush=True)
    for line in tenants.run():
        print(line, flush=True)


if __name__ == "__main__":
    main()
