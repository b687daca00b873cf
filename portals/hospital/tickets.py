"""The hospital's service tickets: raise one for its equipment, follow it, add detail,
confirm and rate the fix (or reopen it), withdraw it."""
from __future__ import annotations

from app.core.handlers import RHHospital
from portals.tickets import TicketActView, TicketNewView, TicketsView, TicketView


class RHTicketNew(TicketNewView, RHHospital):
    portal_name = "hospital"


class RHTickets(TicketsView, RHHospital):
    portal_name = "hospital"
    new_view = RHTicketNew


class RHTicket(TicketView, RHHospital):
    portal_name = "hospital"


class RHTicketNote(TicketActView, RHHospital):
    portal_name, act = "hospital", "note"


class RHTicketConfirm(TicketActView, RHHospital):
    portal_name, act = "hospital", "confirm"


class RHTicketReopen(TicketActView, RHHospital):
    portal_name, act = "hospital", "reopen"


class RHTicketCancel(TicketActView, RHHospital):
    portal_name, act = "hospital", "cancel"
