//! Newtype ids. A bare `Uuid` never crosses a crate boundary, so a `UserId`
//! cannot be passed where a `ShopId` is expected.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7), so that ids sort by creation
            /// and index inserts stay local.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    )*};
}

id_type!(
    ShopId,
    UserId,
    MembershipId,
    InvitationId,
    SessionId,
    ApiKeyId,
    AuditId,
    EmailId,
    OutboxId,
    CustomerId,
    VehicleId,
    TicketId,
    ServiceId,
    LineItemId,
    StatusId,
    StatusChangeId,
    TimelineEventId,
    CommentId,
    NotificationId,
    MessageId,
    ThreadId,
    LinkId,
    ApprovalId,
    WebhookId,
    WebhookDeliveryId,
    ConsentEventId,
    InspectionTemplateId,
    InspectionId,
    FindingId,
    MediaId,
    TemplateId,
    SyncEventId,
    InvoiceId,
    InvoiceUploadId,
);
