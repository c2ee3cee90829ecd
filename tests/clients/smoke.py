"""Smoke flow through a client that openapi-python-client generated from
openapi/pitwall.json (the generated package, `pitwall_client`, is not
committed: tests/clients/run.sh makes it and puts it on PYTHONPATH).

Every answer is parsed by the generated models, which refuse a body that
does not match the document (a null where it declares none, a missing
required field), so this fails where an integrator's client would.
"""

import os
import sys
import uuid
from datetime import datetime, timezone

from pitwall_client import AuthenticatedClient, Client
from pitwall_client.api.approvals import create_customer_link
from pitwall_client.api.auth import login
from pitwall_client.api.customer import approve_customer_link, get_customer_link
from pitwall_client.api.message_setup import list_vehicle_statuses
from pitwall_client.api.pos import pos_put_ticket
from pitwall_client.api.tickets import get_ticket, get_ticket_timeline, list_tickets, set_ticket_status
from pitwall_client.models import (
    CreateLinkRequest,
    CustomerApprovalRequest,
    CustomerApprovalResult,
    CustomerViewOut,
    CreatedLinkOut,
    ErrorBody,
    LoginRequest,
    PosCustomer,
    PosLineItem,
    PosPushResult,
    PosService,
    PosTicketRequest,
    PosVehicle,
    SetStatusRequest,
    SetStatusResponse,
    TicketDetailOut,
    TicketList,
    TimelineList,
    TokenResponse,
    VehicleStatusList,
)

BASE = os.environ["PITWALL_BASE"]


def ok(step, response, model, statuses=(200,)):
    """The answer parsed as `model` with an expected status, or a failure naming the step."""
    parsed = response.parsed
    if response.status_code not in statuses or not isinstance(parsed, model):
        body = parsed.to_dict() if isinstance(parsed, ErrorBody) else response.content[:500]
        sys.exit(f"python client: {step} answered {response.status_code}: {body}")
    print(f"python client: {step}: {response.status_code}")
    return parsed


pos = AuthenticatedClient(base_url=BASE, token=os.environ["PITWALL_POS_KEY"])
anon = Client(base_url=BASE)

external_id = f"RO-PY-{uuid.uuid4().hex[:8]}"
pushed = ok(
    "POS push",
    pos_put_ticket.sync_detailed(
        external_id,
        client=pos,
        body=PosTicketRequest(
            kind="workorder",
            number=external_id,
            pos_updated_at=datetime.now(timezone.utc),
            customer=PosCustomer(external_id=f"C-{external_id}", first_name="Py", last_name="Client", phone="(512) 555-0142"),
            vehicle=PosVehicle(external_id=f"V-{external_id}", make="Honda", model="Civic", year=2019),
            services=[
                PosService(
                    external_id="S-1",
                    title="Front brakes",
                    status="recommended",
                    line_items=[PosLineItem(kind="labor", description="Pads", quantity=1.5, unit_price=12000, taxable=False)],
                ),
                PosService(
                    external_id="S-2",
                    title="Wiper blades",
                    status="recommended",
                    line_items=[PosLineItem(kind="part", description="Blades", quantity=1.0, unit_price=2500, taxable=True)],
                ),
            ],
            tax_rate=0.0825,
        ),
    ),
    PosPushResult,
    statuses=(201,),
)
ticket_id = pushed.ticket.id

token = ok(
    "sign in",
    login.sync_detailed(client=anon, body=LoginRequest(email=os.environ["PITWALL_EMAIL"], password=os.environ["PITWALL_PASSWORD"])),
    TokenResponse,
).token
staff = AuthenticatedClient(base_url=BASE, token=token)

# Every page of tickets, to the last one (whose next_cursor is null).
seen, cursor, pages = set(), None, 0
while True:
    page = ok(
        f"list tickets, page {pages + 1}",
        list_tickets.sync_detailed(client=staff, limit=2, **({"cursor": cursor} if cursor else {})),
        TicketList,
    )
    pages += 1
    seen.update(t.id for t in page.items)
    if not page.next_cursor:
        break
    cursor = page.next_cursor
if ticket_id not in seen or pages < 2:
    sys.exit(f"python client: paging saw {len(seen)} tickets in {pages} pages, not the pushed one")

ticket = ok("read the ticket", get_ticket.sync_detailed(ticket_id, client=staff), TicketDetailOut).ticket
statuses = ok("list statuses", list_vehicle_statuses.sync_detailed(client=staff), VehicleStatusList)
target = next(s for s in statuses.items if ticket.status is None or s.id != ticket.status.id)
changed = ok(
    "set a status",
    set_ticket_status.sync_detailed(ticket_id, client=staff, body=SetStatusRequest(status_id=target.id)),
    SetStatusResponse,
)
timeline = ok("read the timeline", get_ticket_timeline.sync_detailed(ticket_id, client=staff), TimelineList)
if not timeline.items:
    sys.exit("python client: the timeline is empty after a status change")

link = ok(
    "create a customer link",
    create_customer_link.sync_detailed(ticket_id, client=staff, body=CreateLinkRequest()),
    CreatedLinkOut,
    statuses=(201,),
)
link_token = link.url.rsplit("/c/", 1)[1]
view = ok("read the customer's JSON", get_customer_link.sync_detailed(link_token, client=anon), CustomerViewOut)
waiting = [s.id for s in view.services if s.awaiting_decision]
result = ok(
    "approve",
    approve_customer_link.sync_detailed(
        link_token,
        client=anon,
        body=CustomerApprovalRequest(
            approved_service_ids=waiting[:1],
            declined_service_ids=waiting[1:],
            signer_name="Py Client",
            signature="M 10 10 L 20 20",
            ticket_version=view.ticket_version,
        ),
    ),
    CustomerApprovalResult,
    statuses=(201,),
)
print(f"python client: approved {len(result.approval.approved)} service(s); smoke flow passed")
