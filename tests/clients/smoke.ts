// Smoke flow through openapi-fetch typed by openapi-typescript from
// openapi/pitwall.json (generated/schema.d.ts, made by run.sh, not
// committed). `tsc --strict` checks this file against the generated types
// first, so a field the document declares wrongly (a null it does not
// admit, a path or body that is not there) fails the build or the run.
import createClient from 'openapi-fetch';
import type { paths } from './generated/schema.js';

// The one Node global used; declared here rather than pulling in @types/node.
declare const process: { env: Record<string, string | undefined> };

const base = process.env.PITWALL_BASE;
const posKey = process.env.PITWALL_POS_KEY;
const email = process.env.PITWALL_EMAIL;
const password = process.env.PITWALL_PASSWORD;
if (!base || !posKey || !email || !password) {
  throw new Error('set PITWALL_BASE, PITWALL_POS_KEY, PITWALL_EMAIL and PITWALL_PASSWORD');
}

const api = createClient<paths>({ baseUrl: base });

/** The parsed body of a successful answer, or a failure naming the step. */
function ok<T>(step: string, r: { data?: T; error?: unknown; response: Response }, status = 200): T {
  if (r.response.status !== status || r.data === undefined) {
    throw new Error(`typescript client: ${step} answered ${r.response.status}: ${JSON.stringify(r.error)}`);
  }
  console.log(`typescript client: ${step}: ${r.response.status}`);
  return r.data;
}

const pos = { Authorization: `Bearer ${posKey}` };
const externalId = `RO-TS-${Math.random().toString(36).slice(2, 10)}`;
const pushed = ok(
  'POS push',
  await api.PUT('/api/pos/v1/tickets/{external_id}', {
    params: { path: { external_id: externalId } },
    headers: pos,
    body: {
      kind: 'workorder',
      number: externalId,
      pos_updated_at: new Date().toISOString(),
      customer: { external_id: `C-${externalId}`, first_name: 'Ts', last_name: 'Client', phone: '(512) 555-0143' },
      vehicle: { external_id: `V-${externalId}`, make: 'Toyota', model: 'Corolla', year: 2020 },
      services: [
        {
          external_id: 'S-1', title: 'Front brakes', status: 'recommended',
          line_items: [{ kind: 'labor', description: 'Pads', quantity: 1.5, unit_price: 12000, taxable: false }],
        },
        {
          external_id: 'S-2', title: 'Wiper blades', status: 'recommended',
          line_items: [{ kind: 'part', description: 'Blades', quantity: 1, unit_price: 2500, taxable: true }],
        },
      ],
      tax_rate: 0.0825,
    },
  }),
  201,
);
const ticketId = pushed.ticket.id;

const { token } = ok('sign in', await api.POST('/api/v1/auth/login', { body: { email, password } }));
const staff = { Authorization: `Bearer ${token}` };

// Every page of tickets, to the last one (whose next_cursor is null).
const seen = new Set<string>();
let cursor: string | null | undefined;
let pages = 0;
do {
  const page = ok(
    `list tickets, page ${pages + 1}`,
    await api.GET('/api/v1/tickets', { params: { query: { limit: 2, ...(cursor ? { cursor } : {}) } }, headers: staff }),
  );
  pages += 1;
  for (const t of page.items) seen.add(t.id);
  cursor = page.next_cursor;
} while (cursor);
if (!seen.has(ticketId) || pages < 2) {
  throw new Error(`typescript client: paging saw ${seen.size} tickets in ${pages} pages, not the pushed one`);
}

const ticketPath = { params: { path: { ticket_id: ticketId } }, headers: staff };
const { ticket } = ok('read the ticket', await api.GET('/api/v1/tickets/{ticket_id}', ticketPath));
const statuses = ok('list statuses', await api.GET('/api/v1/vehicle-statuses', { headers: staff }));
const target = statuses.items.find((s) => s.id !== ticket.status?.id);
if (!target) throw new Error('typescript client: no other status to set');
ok('set a status', await api.PUT('/api/v1/tickets/{ticket_id}/status', { ...ticketPath, body: { status_id: target.id } }));
const timeline = ok('read the timeline', await api.GET('/api/v1/tickets/{ticket_id}/timeline', ticketPath));
if (timeline.items.length === 0) throw new Error('typescript client: the timeline is empty after a status change');

const link = ok(
  'create a customer link',
  await api.POST('/api/v1/tickets/{ticket_id}/customer-links', { ...ticketPath, body: {} }),
  201,
);
const linkToken = link.url.split('/c/')[1] ?? '';
const linkPath = { params: { path: { token: linkToken } } };
const view = ok("read the customer's JSON", await api.GET('/api/customer/v1/links/{token}', linkPath));
const waiting = view.services.filter((s) => s.awaiting_decision).map((s) => s.id);
const result = ok(
  'approve',
  await api.POST('/api/customer/v1/links/{token}/approval', {
    ...linkPath,
    body: {
      approved_service_ids: waiting.slice(0, 1),
      declined_service_ids: waiting.slice(1),
      signer_name: 'Ts Client',
      signature: 'M 10 10 L 20 20',
      ticket_version: view.ticket_version,
    },
  }),
  201,
);
console.log(`typescript client: approved ${result.approval.approved.length} service(s); smoke flow passed`);
