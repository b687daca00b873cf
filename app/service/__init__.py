"""After-sales (售后): the installed base with warranty and service contracts, preventive
maintenance plans and visits, service tickets with SLA clocks and spare parts, and recall
campaigns traced by lot and serial down to the dealers and hospitals holding the units."""
