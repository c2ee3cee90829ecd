//! Reading the closed sets stored as text (statuses, kinds, channels, modes)
//! back into their domain types. A value the code does not know is a
//! corrupt row, said as such: never quietly read as some default, which
//! would send, total or time the wrong thing.

use pitwall_domain::inspections::Condition;
use pitwall_domain::invoices::InvoiceStatus;
use pitwall_domain::messaging::{Channel, MessageKind, MessageStatus};
use pitwall_domain::tickets::{ServiceStatus, TimerMode};

use crate::StoreError;
use pitwall_domain::workflow::Stage;

use crate::entities::{
    inspection_finding, invoice, message, stage_change, ticket, ticket_service, vehicle_status,
};

fn read<T>(column: &str, raw: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(raw).ok_or_else(|| StoreError::Corrupt(format!("{column} holds {raw:?}")))
}

impl message::Model {
    pub fn status_value(&self) -> Result<MessageStatus, StoreError> {
        read("messages.status", &self.status, MessageStatus::parse)
    }
    pub fn channel_value(&self) -> Result<Channel, StoreError> {
        read("messages.channel", &self.channel, Channel::parse)
    }
    pub fn kind_value(&self) -> Result<MessageKind, StoreError> {
        read("messages.kind", &self.kind, MessageKind::parse)
    }
}

impl ticket_service::Model {
    pub fn status_value(&self) -> Result<ServiceStatus, StoreError> {
        read("ticket_services.status", &self.status, ServiceStatus::parse)
    }
}

impl ticket::Model {
    pub fn stage_value(&self) -> Result<Stage, StoreError> {
        read("tickets.stage", &self.stage, Stage::parse)
    }
}

impl invoice::Model {
    pub fn status_value(&self) -> Result<InvoiceStatus, StoreError> {
        read("invoices.status", &self.status, InvoiceStatus::parse)
    }
}

impl stage_change::Model {
    pub fn from_value(&self) -> Result<Stage, StoreError> {
        read("stage_changes.from_stage", &self.from_stage, Stage::parse)
    }
    pub fn to_value(&self) -> Result<Stage, StoreError> {
        read("stage_changes.to_stage", &self.to_stage, Stage::parse)
    }
}

impl vehicle_status::Model {
    pub fn timer_mode_value(&self) -> Result<TimerMode, StoreError> {
        read(
            "vehicle_statuses.timer_mode",
            &self.timer_mode,
            TimerMode::parse,
        )
    }
}

impl inspection_finding::Model {
    pub fn condition_value(&self) -> Result<Condition, StoreError> {
        read(
            "inspection_findings.condition",
            &self.condition,
            Condition::parse,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_stored_value_is_a_corrupt_row_not_a_default() {
        let err = read("messages.status", "exploded", MessageStatus::parse).unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt(ref m) if m.contains("messages.status") && m.contains("exploded"))
        );
        assert_eq!(
            read("messages.status", "held", MessageStatus::parse).unwrap(),
            MessageStatus::Held
        );
    }
}
