"""Service tickets of the hospitals a dealer serves: raise one for a hospital, follow,
answer and resolve them (the manufacturer's after-sales assigns and uses parts)."""
from __future__ import annotations

from app.core.handlers import RHDealer
from app.service.tickets import DEALER_ROLES
from portals.tickets import TicketActView, TicketNewView, TicketsView, TicketView


class RHTicketNew(TicketNewView, RHDealer):
    portal_name = "dealer"
    roles = DEALER_ROLES


class RHTickets(TicketsView, RHDealer):
    portal_name = "dealer"
    new_view = RHTicketNew


class RHTicket(TicketView, RHDealer):
    portal_name = "dealer"


class RHTicketNote(TicketActView, RHDealer):
    portal_name, act = "dealer", "note"
    roles = DEALER_ROLES


class RHTicketResolve(TicketActView, RHDealer):
    portal_name, act = "dealer", "resolve"
    roles = DEALER_ROLES
